"""The notification outbox on the leader: commit what will be told, tell it, commit the result.

A decided event becomes *items* (`intent_items`: one per webhook, one per email event), each
with a stable id (`model.outbox.notification_id`). `Outbox.commit(items)` proposes them as
one `notify_intent`; once it is applied on this peer, `Outbox.on_intent` delivers the items it
recorded. A leader that starts (`resume`) delivers every notification its copy holds as still
`pending`: what a previous leader committed and never finished. After the attempts
(`attempts`, doubling pauses from `backoff`; a 4xx other than 408/429 is final at once) the
outcome is committed as `notify_result` (`delivered` or `failed`), so no later leader sends
it again.

Exactly once per event, as far as the target can tell: the intent is recorded once (same id,
same row), and delivery is repeated only when a leader dies after the target accepted and
before `notify_result` committed. For that window every webhook carries the id (body `id`,
header `X-Raftcron-Delivery`) and, with a secret, `X-Raftcron-Signature: sha256=<HMAC-SHA256
of the body>`; receivers drop an id they have seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from raftcron.config.cluster import NotifyConfig
from raftcron.errors import RaftcronError
from raftcron.model.outbox import notification_id
from raftcron.notify import decisions as notify
from raftcron.notify.transports import describe, permanent, post_json, send_mail

log = logging.getLogger("raftcron.notify.sender")

#: Threads sending webhook POSTs at once (urllib is blocking; the loop never waits on it).
SEND_THREADS = 4
#: The loop gives up on one attempt after this many times the socket timeout.
ATTEMPT_DEADLINE = 3
#: Pending notifications read per page when a leader resumes them.
RESUME_PAGE = 500
#: Ids this leadership finished delivering, remembered so that a page of pending ones read
#: before their result applied does not send them again (the newest this many).
FINISHED_MEMORY = 10_000

Propose = Callable[..., Awaitable[dict]]
PostJson = Callable[..., None]
SendMail = Callable[..., Awaitable[None]]


def intent_items(job: Mapping[str, Any], event: str, about: str, run_id: str | None, *,
                 config: NotifyConfig, webhook_payload: Mapping[str, Any],
                 email: tuple[str, str] | None) -> list[dict[str, Any]]:
    """The outbox items of one event (pure): one per webhook target, one for the emails.

    `about` names what the event is about (the run id, or `job@reference` for `absent`);
    `email` is the (subject, body) when there are addresses to tell."""
    where = notify.targets(job.get("notify") or {}, global_webhook=config.webhook,
                           global_email=config.email)
    name = str(job["name"])
    items: list[dict[str, Any]] = []
    for url in where.webhooks:
        ident = notification_id(str(event), about, url)
        items.append({"id": ident, "job": name, "event": str(event), "run_id": run_id,
                      "kind": "webhook", "target": url,
                      "payload": {**webhook_payload, "id": ident}})
    if where.emails and email is not None:
        target = ",".join(sorted(where.emails))
        items.append({"id": notification_id(str(event), about, target), "job": name,
                      "event": str(event), "run_id": run_id, "kind": "email",
                      "target": target, "payload": {"subject": email[0], "body": email[1]}})
    return items


class Outbox:
    """Delivers committed notifications while this peer leads (see the module docstring)."""

    def __init__(self, *, propose: Propose, now: Callable[[], str], config: NotifyConfig,
                 job_of: Callable[[str], Awaitable[dict | None]],
                 attempts: int = 3, timeout: float = 10.0, backoff: float = 1.0,
                 post: PostJson | None = None, mail: SendMail | None = None) -> None:
        self._propose = propose
        self._now = now
        self.config = config
        self._job_of = job_of
        self.attempts = max(1, attempts)
        self.timeout = timeout
        self.backoff = backoff
        self._post = post or post_json
        self._mail = mail or send_mail
        self._pool: ThreadPoolExecutor | None = None
        #: Ids being delivered by this peer now (one delivery per id per leadership).
        self._in_flight: set[str] = set()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self.running = False
        self._warned_no_smtp = False
        self.sent = 0
        self.failed = 0

    # --- leadership -------------------------------------------------------------------------

    def start(self) -> None:
        self._finished.clear()
        self.running = True

    def stop(self) -> None:
        """Stop starting deliveries (leadership ended); those under way finish their attempt
        and their result is proposed (refused by a peer that no longer leads: the next leader
        resends what stayed pending)."""
        self.running = False

    async def close(self) -> None:
        self.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def drain(self) -> None:
        """Wait for the deliveries in flight (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    # --- intents ----------------------------------------------------------------------------

    def commit(self, items: Sequence[dict[str, Any]]) -> None:
        """Propose `items` as one `notify_intent` (in the background; never raises)."""
        if items:
            self._spawn(self._commit(list(items)))

    async def _commit(self, items: list[dict[str, Any]]) -> None:
        try:
            await self._propose("notify_intent", {"items": items, "at": self._now()})
        except (TimeoutError, RaftcronError) as exc:
            # Not committed: nothing was told. A leader that starts re-decides recent events.
            log.warning("notify: could not commit %d notification(s) (%s): %s", len(items),
                        items[0]["event"], exc)

    def on_intent(self, command_args: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        """An applied `notify_intent`: deliver the items it recorded (on the leader)."""
        if not self.running:
            return
        recorded = set(result.get("recorded") or ())
        for item in command_args.get("items") or ():
            if item.get("id") in recorded:
                self.deliver(item)

    async def resume(self, pending: Callable[[int], Awaitable[list[dict]]]) -> int:
        """Deliver every pending notification of the copy (a leader starting); how many."""
        after, count = 0, 0
        while self.running:
            page = await pending(after)
            for item in page:
                self.deliver(item)
                count += 1
            if len(page) < RESUME_PAGE:
                break
            after = int(page[-1]["seq"])
        return count

    # --- delivery ---------------------------------------------------------------------------

    def deliver(self, item: Mapping[str, Any]) -> None:
        ident = str(item["id"])
        if ident in self._in_flight or ident in self._finished or not self.running:
            return
        self._in_flight.add(ident)
        self._spawn(self._deliver(dict(item)))

    async def _deliver(self, item: dict[str, Any]) -> None:
        ident, job, event = item["id"], item["job"], item["event"]
        what = (f"webhook {notify.redact_url(item['target'])}" if item["kind"] == "webhook"
                else f"email via {self.config.smtp_host}:{self.config.smtp_port}")
        try:
            send = await self._sender(item)
            if send is None:
                return  # email without a relay: left pending for a leader that has one
            status, error, attempt = await self._attempts(send, job, event, what)
            # Remembered before the result is proposed: `resume` may hold a page read while
            # this was pending, and must not send it again once the result has applied.
            self._finished[ident] = None
            if len(self._finished) > FINISHED_MEMORY:
                self._finished.popitem(last=False)
            await self._finish(ident, status, attempt, error)
        finally:
            self._in_flight.discard(ident)

    async def _sender(self, item: dict[str, Any]) -> Callable[[], Awaitable[None]] | None:
        payload = item["payload"]
        if item["kind"] == "webhook":
            secret = await self._secret_for(item)
            post = functools.partial(self._post, item["target"], payload, self.timeout,
                                     secret=secret, delivery=item["id"])
            return lambda: self._in_thread(post)
        cfg = self.config
        if not cfg.smtp_host:
            if not self._warned_no_smtp:
                log.warning("notify: email targets are set but [notify] smtp_host is not; "
                            "no email is sent")
                self._warned_no_smtp = True
            return None
        return functools.partial(self._mail, host=cfg.smtp_host, port=cfg.smtp_port,
                                 sender=cfg.smtp_from or "raftcron@localhost",
                                 to=item["target"].split(","), subject=payload["subject"],
                                 body=payload["body"], timeout=self.timeout)

    async def _secret_for(self, item: Mapping[str, Any]) -> str | None:
        """The HMAC secret of a webhook: the job's own hook's `webhook_secret`, or the
        cluster's `[notify] webhook_secret` for the cluster's hook."""
        if item["target"] == self.config.webhook:
            return self.config.webhook_secret
        policy = ((await self._job_of(str(item["job"]))) or {}).get("notify") or {}
        return policy.get("webhook_secret") if policy.get("webhook") == item["target"] else None

    async def _in_thread(self, fn: Callable[[], None]) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="raftcron-notify")
        await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def _attempts(self, send: Callable[[], Awaitable[None]], job: str, event: str,
                        what: str) -> tuple[str, str | None, int]:
        for attempt in range(1, self.attempts + 1):
            try:
                await asyncio.wait_for(send(), self.timeout * ATTEMPT_DEADLINE)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                last = attempt == self.attempts or permanent(exc)
                log.warning("job %s: notifying %s of %s failed (attempt %d of %d): %s%s",
                            job, what, event, attempt, self.attempts, describe(exc),
                            "; giving up" if last else "")
                if last:
                    self.failed += 1
                    return "failed", describe(exc), attempt
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            else:
                self.sent += 1
                log.info("job %s: told %s of %s", job, what, event)
                return "delivered", None, attempt
        raise AssertionError("unreachable")  # pragma: no cover

    async def _finish(self, ident: str, status: str, attempts: int, error: str | None) -> None:
        args = {"id": ident, "status": status, "attempts": attempts, "error": error,
                "at": self._now()}
        try:
            await self._propose("notify_result", args)
        except (TimeoutError, RaftcronError) as exc:
            # Still pending in the state: the next leader sends it again (the receiver drops
            # the repeated id).
            log.warning("notify: %s %s but its result could not be committed: %s", ident,
                        status, exc)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
