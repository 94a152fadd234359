"""Property: no request a client can send gets a 500, and a refused write changes nothing."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.api import LiveApi, job_body

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12,
)
_FIELDS = ["name", "schedule", "command", "tz", "env", "timeout", "retries", "concurrency",
           "catchup", "jitter", "start_at", "end_at", "max_runs", "hosts", "roles", "labels",
           "notify", "type", "script", "user", "paused", "keep_runs", "executable"]
_JOBISH = st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=6)
_PATHS = st.sampled_from(["/jobs", "/jobs/x", "/jobs/x/pause", "/jobs/x/run", "/runs",
                          "/runs/x", "/runs/x/output", "/runs/x/cancel", "/nodes", "/nodes/x",
                          "/status", "/metrics", "/readyz", "/", "/static/app.js"])
_QUERY = st.dictionaries(
    st.sampled_from(["limit", "cursor", "status", "since", "until", "label", "role", "job",
                     "stream", "min_index", "timeout", "consistency", "peer"]),
    st.text(max_size=12), max_size=3)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path_factory.mktemp("fuzz"))
    live.ctx.wait_timeout = 0.05  # min_index waits are bounded by this when no timeout given
    live.request("PUT", "/jobs/x", job_body("x"))
    yield live
    live.close()


@settings(max_examples=150, deadline=None)
@given(body=st.one_of(_JOBISH, _JSON))
def test_api_fuzz_job_bodies_never_500_and_refusals_change_nothing(api: LiveApi,
                                                                   body: object) -> None:
    before = api.state.applied_index
    status, _, answer = api.request("PUT", "/jobs/fuzzed", body)
    assert status < 500, answer
    if status >= 400:
        assert answer["error"] and api.state.applied_index == before
    else:
        api.request("DELETE", "/jobs/fuzzed")


@settings(max_examples=150, deadline=None)
@given(path=_PATHS, query=_QUERY, method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
def test_api_fuzz_routes_and_queries_never_500(api: LiveApi, path: str, query: dict,
                                               method: str) -> None:
    if "timeout" in query:
        query["timeout"] = "0.01"
    url = path + ("?" + urllib.parse.urlencode(query) if query else "")
    raw = b"{}" if method in ("POST", "PUT") else None
    status, headers, answer = api.request(method, url, raw=raw,
                                          headers={"Content-Type": "application/json"})
    assert status < 500 or status == 503, answer
    assert "X-Raftcron-Index" in headers

