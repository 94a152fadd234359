"""The API against its own /openapi.json: a bounded schemathesis run, and the document itself.

schemathesis generates requests for every operation from the served document (typed query
parameters, bounded bodies, the examples of bodies and path parameters) and sends them to a
real single-peer API (the aiohttp app over a real state machine and real SQLite, as the other
API tests run it). No answer may be a 5xx, and every answer must conform to the document:
a documented status, the documented media type and a body that matches its schema.

It runs on `LiveApi` rather than a daemon process on purpose: a generated job would fire, and
its generated command would run on this machine.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from raftcron.api import output_stream
from raftcron.api.openapi import build_document
from raftcron.api.routes import ROUTES
from tests.support.api import SELF, LiveApi, fire_record

#: Examples per operation (23 operations): small enough for well under a minute on a loaded
#: 2-core machine, large enough to reach each route with typed and bounded parameters.
MAX_EXAMPLES = 12
#: The bounded `min_index` wait each request may ask for; a longer one is cut to this.
WAIT = 0.02
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    api = LiveApi(tmp_path_factory.mktemp("schemathesis"))
    api.node.peers = [{"id": SELF, "self": True, "reachable": True}]  # a single peer
    api.ctx.wait_timeout = WAIT
    # run-1 stays pending (nothing runs it here): its followed output would never end.
    follow, output_stream.MAX_FOLLOW = output_stream.MAX_FOLLOW, 0.2
    # What the document's examples name (job `backup`, run `run-1`), so the generated
    # requests reach the routes behind them, not only their 404s.
    _restore(api)
    yield api
    output_stream.MAX_FOLLOW = follow
    api.close()


def _restore(api: LiveApi) -> None:
    """Job `backup` and its run `run-1` (with output) back as the document's examples name
    them: a generated DELETE of the job removes both."""
    if api.request("GET", "/jobs/backup")[0] == 404:
        status, _, answer = api.request("PUT", "/jobs/backup", {
            "name": "backup", "schedule": "0 3 * * *", "command": ["/bin/true"]})
        assert status == 201, answer
    if api.request("GET", "/runs/run-1")[0] == 404:
        slot = "2030-01-01T03:00:00Z"
        fired = api.apply("fire", {"runs": [fire_record("backup", slot, run_id="run-1")],
                                   "at": slot})
        assert fired["accepted"] == ["run-1"], fired
        output = api.root / "output"
        output.mkdir(exist_ok=True)
        (output / "run-1.stdout").write_text("hello\n")


# The document the app serves (`test_api_openapi_document_is_the_served_one` holds them
# equal); loaded at import because schemathesis parametrizes at collection time.
schema = schemathesis.openapi.from_dict(build_document(ROUTES))


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_schemathesis_no_5xx_and_answers_conform(case: schemathesis.Case,
                                                      live: LiveApi) -> None:
    if "timeout" in case.query:
        case.query["timeout"] = WAIT  # the wait is bounded by design; keep the run short
    response = case.call(base_url=live.url)
    try:
        if response.status_code == 503 and _waits_for_a_later_index(case, live):
            # The documented bounded wait: `min_index` beyond what this peer applied.
            assert response.json()["field"] == "min_index"
            case.validate_response(response, checks=CHECKS,
                                   excluded_checks=[not_a_server_error])
        else:
            case.validate_response(response, checks=CHECKS)
    finally:
        if case.method == "DELETE":
            _restore(live)


def _waits_for_a_later_index(case: schemathesis.Case, live: LiveApi) -> bool:
    try:  # as generated: an int, or its text in the coverage phase
        return int(str(case.query.get("min_index"))) > live.state.applied_index
    except ValueError:
        return False


def test_api_openapi_document_is_valid_openapi_3(live: LiveApi) -> None:
    with urllib.request.urlopen(live.url + "/openapi.json", timeout=10) as resp:
        document = json.load(resp)
    assert document == json.loads(json.dumps(build_document(ROUTES)))  # what schemathesis reads
    assert document["openapi"].startswith("3.")
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    runs = document["paths"]["/runs"]["get"]["parameters"]
    types = {p["name"]: p["schema"].get("type") for p in runs}
    assert types["limit"] == "integer" and types["min_index"] == "integer"
    assert types["timeout"] == "number"
    assert {p["name"]: p["schema"].get("format") for p in runs}["since"] == "date-time"


def test_api_openapi_examples_are_accepted(tmp_path: Path) -> None:
    """The body examples the document gives are real: the server accepts each of them."""
    api = LiveApi(tmp_path)
    try:
        document = api.request("GET", "/openapi.json")[2]
        for path, body_of in (("/jobs/backup", "put"), ("/nodes/worker-1", "put")):
            content = document["paths"][path.rsplit("/", 1)[0] + "/{name}"][body_of][
                "requestBody"]["content"]["application/json"]
            status, _, answer = api.request("PUT", path, content["example"])
            assert status == 201, answer
    finally:
        api.close()
