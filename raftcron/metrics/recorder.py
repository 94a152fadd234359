"""What the worker and the scheduler tell the metrics, and the reason classes of `missed` and
`skipped` records. Pure: no prometheus_client here, so any module may import it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

#: (label, substring) in order: the first substring found in a `missed`/`skipped` record's
#: reason names its class (a summary record naming several causes counts under the first).
#: Reasons are free text with times in them; a label must take few values, so they are
#: classed. The substrings are the fixed parts of the reasons `planning.slots`,
#: `planning.concurrency` and `planning.proposals` write.
REASON_CLASSES: tuple[tuple[str, str], ...] = (
    ("paused", "while the job was paused"),
    ("no_target", "no eligible peer/node"),
    ("catchup_window", "older than catchup_window"),
    ("catchup_cap", "catch-up cap"),
    ("catchup_none", "catchup=none"),
    ("superseded", "catchup=latest"),
    ("replaced", "concurrency=replace"),
    ("queue_full", "queue full"),
    ("overlap", "still running"),
)
#: The class of a reason that matches none of the above.
OTHER_REASON = "other"
NOT_RUN_STATUSES = ("missed", "skipped")


def reason_class(reason: str | None) -> str:
    """The label value for a `missed`/`skipped` record's reason (`other` when unknown)."""
    text = (reason or "").lower()
    for label, needle in REASON_CLASSES:
        if needle in text:
            return label
    return OTHER_REASON


def reason_labels() -> tuple[str, ...]:
    """Every value `reason_class` can return."""
    return (*(label for label, _ in REASON_CLASSES), OTHER_REASON)


def accepted_not_run(op: str, args: Mapping[str, Any],
                     result: Mapping[str, Any] | None) -> Iterator[tuple[str, str]]:
    """(status, reason class) of each `missed`/`skipped` record a `fire` (or a `batch` holding
    one) put into the state: records the fence refused are not counted."""
    if not isinstance(result, Mapping):
        return
    if op == "batch":
        children = args.get("commands") or ()
        results = result.get("results") or ()
        for child, child_result in zip(children, results, strict=False):
            if isinstance(child, Mapping):
                yield from accepted_not_run(str(child.get("op")), child.get("args") or {},
                                            child_result)
        return
    if op != "fire":
        return
    accepted = set(result.get("accepted") or ())
    for record in args.get("runs") or ():
        status = record.get("status")
        if status in NOT_RUN_STATUSES and record.get("run_id") in accepted:
            yield status, reason_class(record.get("reason"))


def moved(op: str, args: Mapping[str, Any], result: Mapping[str, Any] | None) -> int:
    """How many `move_run` of a proposal (alone or in a `batch`) the state applied."""
    if not isinstance(result, Mapping):
        return 0
    if op == "batch":
        children = args.get("commands") or ()
        results = result.get("results") or ()
        return sum(moved(str(child.get("op")), child.get("args") or {}, child_result)
                   for child, child_result in zip(children, results, strict=False)
                   if isinstance(child, Mapping))
    return int(op == "move_run" and result.get("ok") is True)


class Recorder(Protocol):
    """Events, counted where they happen. Every method is cheap and never raises."""

    def run_started(self, *, slot: datetime, attempt: int, started_at: datetime) -> None:
        """This peer started a run's process (`started_at`) for `slot`."""

    def run_finished(self, *, status: str, started_at: datetime | None,
                     finished_at: datetime | None) -> None:
        """This peer reported a run final (`succeeded`, `failed`, `timed_out`, `cancelled`,
        `lost`); the times are None for a run that never started."""

    def fire_lags(self, seconds: Iterable[float]) -> None:
        """The leader fired slots this long after they were due."""

    def proposed(self, op: str, args: Mapping[str, Any], result: Mapping[str, Any] | None) -> None:
        """The leader's scheduler had this command applied (`result` is apply's)."""


class NullRecorder:
    """Records nothing: the default where no metrics are wanted (unit tests)."""

    def run_started(self, *, slot: datetime, attempt: int, started_at: datetime) -> None:
        return None

    def run_finished(self, *, status: str, started_at: datetime | None,
                     finished_at: datetime | None) -> None:
        return None

    def fire_lags(self, seconds: Iterable[float]) -> None:
        return None

    def proposed(self, op: str, args: Mapping[str, Any], result: Mapping[str, Any] | None) -> None:
        return None


NULL_RECORDER: Recorder = NullRecorder()
