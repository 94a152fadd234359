"""How a notification leaves the peer: a webhook POST (blocking `urllib`, run on the outbox's
own threads) or an SMTP email (`aiosmtplib`, on the event loop: the only importer of it), and
how a failed attempt is described and judged.

A webhook body is signed when the hook has a secret: `X-Raftcron-Signature: sha256=<hex>` is
the HMAC-SHA256 of the exact body bytes under the secret, and `X-Raftcron-Delivery` carries
the notification's id (the same id on a repeated delivery).

Only the status or the error's kind is ever described: never a URL (its userinfo may be a
secret) nor a message body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit, urlunsplit

import aiosmtplib

__all__ = ["SIGNATURE_HEADER", "describe", "permanent", "post_json", "send_mail", "signature"]

SIGNATURE_HEADER = "X-Raftcron-Signature"
DELIVERY_HEADER = "X-Raftcron-Delivery"


def signature(secret: str, body: bytes) -> str:
    """The `X-Raftcron-Signature` value of `body` under `secret`: `sha256=<hex HMAC>`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_json(url: str, payload: dict, timeout: float, *, secret: str | None = None,
              delivery: str | None = None) -> None:
    """POST `payload` as JSON to `url` (blocking), signed with `secret` when given, with the
    delivery id. Raises on a transport error or a non-2xx."""
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json", "User-Agent": "raftcron-notifier"}
    if delivery is not None:
        headers[DELIVERY_HEADER] = delivery
    if parts.username is not None:
        user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(user_pass.encode()).decode()
        netloc = parts.hostname or ""
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, data)
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resp.read()


async def send_mail(*, host: str, port: int, sender: str, to: list[str], subject: str,
                    body: str, timeout: float) -> None:
    """Send one plain-text email through the SMTP relay, without blocking the loop. Raises on
    failure (`aiosmtplib.SMTPException`, `OSError`, `TimeoutError`)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), subject
    msg.set_content(body)
    await aiosmtplib.send(msg, hostname=host, port=port, timeout=timeout, start_tls=False,
                          use_tls=False)


def describe(exc: BaseException) -> str:
    # HTTPError's text is "HTTP Error 500: ..."; URLError carries a reason, never the URL.
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return f"{type(exc.reason).__name__}: {exc.reason}"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"SMTP {exc.code}"
    if isinstance(exc, TimeoutError) and not str(exc):
        return "no answer within the attempt's deadline"
    return f"{type(exc).__name__}: {exc}"


def permanent(exc: BaseException) -> bool:
    """A 4xx other than 408/429 will not get better by asking again."""
    return (isinstance(exc, urllib.error.HTTPError) and 400 <= exc.code < 500
            and exc.code not in (408, 429))
