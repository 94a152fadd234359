"""`--api` with several peers, exit statuses by kind, and a write whose outcome is unknown
(issue 13, items 3, 4 and 7)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from raftcron.cli import exits, overview
from raftcron.client import Client
from raftcron.errors import HttpStatusError, OutcomeUnknownError, UnavailableError
from tests.support.api import TOKEN, LiveApi, job_body
from tests.unit.cli.conftest import run_cli as run


class SilentPeer:
    """A peer that takes a request and answers nothing (closes the connection, or with
    `answer` sends that raw HTTP answer): records each request's Idempotency-Key."""

    def __init__(self, answer: bytes | None = None, *, hold: bool = False) -> None:
        self.answer = answer
        self.hold = hold  # keep the connection open, silent, until closed
        self.stop = threading.Event()
        self.keys: list[str | None] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
                key = None
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "idempotency-key":
                        key = value.strip()
                self.keys.append(key)
                if self.answer is not None:
                    conn.sendall(self.answer)
                if self.hold:
                    self.stop.wait(30)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


NO_LEADER = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
             b"Content-Length: 48\r\nConnection: close\r\n\r\n"
             b'{"error": "no leader/quorum", "field": null}    ')


def _dead_url() -> str:
    """A port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def silent() -> Iterator[SilentPeer]:
    peer = SilentPeer()
    yield peer
    peer.close()


def test_cli_api_list_skips_a_dead_peer(api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    peers = f"{_dead_url()},{api.url}"
    code, out, err = run(capsys, "jobs", "add", "a", "--api", peers, "--schedule", "@hourly",
                         "--", "true")
    assert code == 0, err
    code, out, err = run(capsys, "jobs", "list", "--api", peers)
    assert code == 0 and out.splitlines()[1].startswith("a"), err
    # Without a scheme too, and from $RAFTCRON_API.
    code, out, _ = run(capsys, "status", "--api", f"{_dead_url()},{api.url.split('//')[1]}")
    assert code == 0 and "leader" in out


def test_client_write_goes_to_the_next_peer_with_the_same_key(api: LiveApi,
                                                             silent: SilentPeer) -> None:
    no_leader = SilentPeer(NO_LEADER)
    try:
        client = Client([silent.url, no_leader.url, api.url], token=TOKEN, timeout=5)
        job = client.create_job(job_body("k"))
        assert job["name"] == "k" and client.base_url == api.url
        key = client.last_key
        assert key and silent.keys == [key] and no_leader.keys == [key]
        assert [k for _, _, k in api.node.proposed] == [key]
        # The peer that answered is tried first from then on.
        client.get_job("k")
        assert silent.keys == [key]
    finally:
        no_leader.close()


def test_cli_write_with_no_answer_is_outcome_unknown(
        silent: SilentPeer, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAFTCRON_API", f"{silent.url},{_dead_url()}")
    monkeypatch.setenv("RAFTCRON_TOKEN", TOKEN)
    code, out, err = run(capsys, "jobs", "add", "u", "--schedule", "@hourly", "--", "true")
    assert code == exits.OUTCOME_UNKNOWN == 7, err
    assert out == "" and "outcome unknown" in err and "raftcron jobs show u" in err
    assert "failed" not in err and "Traceback" not in err
    # Every try, at every peer, carried one key.
    assert len(silent.keys) >= 2 and len(set(silent.keys)) == 1 and silent.keys[0]
    code, _, err = run(capsys, "jobs", "run", "u")
    assert code == 7 and "raftcron runs list --job u" in err


def test_client_write_timed_out_after_sending_is_outcome_unknown() -> None:
    peer = SilentPeer(hold=True)
    try:
        client = Client(peer.url, token=TOKEN, timeout=0.5, write_attempts=1)
        with pytest.raises(OutcomeUnknownError) as err:
            client.pause_job("a")
        assert "stopped answering" in err.value.message
        assert peer.keys == [client.last_key]
    finally:
        peer.close()


def test_client_nothing_reached_is_unavailable_not_unknown() -> None:
    client = Client(f"{_dead_url()},{_dead_url()}", token=TOKEN, timeout=2, write_attempts=3)
    with pytest.raises(UnavailableError) as err:
        client.create_job(job_body("a"))
    assert not isinstance(err.value, OutcomeUnknownError)
    assert "cannot reach" in err.value.message


def test_client_no_leader_anywhere_is_outcome_unknown_for_a_write() -> None:
    # A 503 to a write means the peer could not confirm it: it may still be applied.
    peer = SilentPeer(NO_LEADER)
    try:
        client = Client(peer.url, token=TOKEN, timeout=2, write_attempts=2)
        with pytest.raises(OutcomeUnknownError):
            client.create_job(job_body("a"))
        with pytest.raises(UnavailableError) as err:  # a read is simply unavailable
            client.status()
        assert not isinstance(err.value, OutcomeUnknownError)
    finally:
        peer.close()


def test_cli_exit_statuses_are_distinct_and_documented(tmp_path: Path) -> None:
    codes = [code for code, _ in exits.TABLE]
    assert len(codes) == len(set(codes))
    assert (exits.USAGE, exits.NOT_FOUND, exits.CONFLICT, exits.UNAUTHORIZED,
            exits.UNAVAILABLE, exits.OUTCOME_UNKNOWN, exits.SERVER_ERROR) == (2, 3, 4, 5, 6, 7, 8)
    assert exits.code_for(HttpStatusError(500, "internal error")) == 8
    assert exits.code_for(HttpStatusError(405, "method not allowed")) == 2
    text = overview()
    docs = (Path(__file__).parents[3] / "docs" / "cli.md").read_text()
    for code, meaning in exits.TABLE:
        assert f"  {code:<5}{meaning}" in text
        assert f"| {code} |" in docs


def test_cli_backup_skips_a_dead_peer(api: LiveApi, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "state.backup"
    code, out, err = run(capsys, "backup", str(dest), "--api", f"{_dead_url()},{api.url}",
                         "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["api"] == api.url and answer["bytes"] == dest.stat().st_size > 0
