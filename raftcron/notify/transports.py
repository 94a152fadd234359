"""How a notification leaves the peer: a webhook POST or an SMTP email, both blocking (the
sender runs them on its own threads), and how a failed attempt is described and judged.

Only the status or the error's kind is ever described: never a URL (its userinfo may be a
secret) nor a message body.
"""

from __future__ import annotations

import base64
import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["describe", "permanent", "post_json", "send_mail"]


def post_json(url: str, payload: dict, timeout: float) -> None:
    """POST `payload` as JSON to `url` (blocking). Raises on a transport error or a non-2xx."""
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json", "User-Agent": "raftcron-notifier"}
    if parts.username is not None:
        user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(user_pass.encode()).decode()
        netloc = parts.hostname or ""
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resp.read()


def send_mail(*, host: str, port: int, sender: str, to: list[str], subject: str, body: str,
              timeout: float) -> None:
    """Send one plain-text email through the SMTP relay (blocking). Raises on failure."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), subject
    msg.set_content(body)
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        smtp.send_message(msg)


def describe(exc: BaseException) -> str:
    # HTTPError's text is "HTTP Error 500: ..."; URLError carries a reason, never the URL.
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return f"{type(exc.reason).__name__}: {exc.reason}"
    if isinstance(exc, TimeoutError) and not str(exc):
        return "no answer within the attempt's deadline"
    return f"{type(exc).__name__}: {exc}"


def permanent(exc: BaseException) -> bool:
    """A 4xx other than 408/429 will not get better by asking again."""
    return (isinstance(exc, urllib.error.HTTPError) and 400 <= exc.code < 500
            and exc.code not in (408, 429))
