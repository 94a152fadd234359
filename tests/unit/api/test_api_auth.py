"""The one authorisation rule (raftcron.api.auth), the route table's needs, and the read
index's majority check (raftcron.api.readindex.confirmed)."""

from __future__ import annotations

import pytest

from raftcron.api.auth import Need, Role, Tokens, authorize, bearer, role_of
from raftcron.api.http import HttpError
from raftcron.api.readindex import confirmed
from raftcron.api.routes import ROUTES

ALL = Tokens(write="w-tok", read="r-tok", admin="a-tok")
WRITE_ONLY = Tokens(write="w-tok")
OPEN = Tokens()


@pytest.mark.parametrize(
    ("presented", "tokens", "role"),
    [
        (None, ALL, Role.ANONYMOUS),
        ("a-tok", ALL, Role.ADMIN),
        ("w-tok", ALL, Role.WRITER),
        ("r-tok", ALL, Role.READER),
        ("x", ALL, None),
        ("w-to", ALL, None),
        ("x", OPEN, None),         # a token where none is configured proves nothing
        ("a-tok", WRITE_ONLY, None),
        ("\udcc3\udc98", ALL, None),  # header bytes that are not UTF-8, as aiohttp hands them
    ],
)
def test_role_of_table(presented: str | None, tokens: Tokens, role: Role | None) -> None:
    assert role_of(presented, tokens) == role


@pytest.mark.parametrize(
    ("need", "presented", "tokens", "outcome"),
    [
        # liveness and readiness: anyone, a wrong token is ignored
        (Need.NONE, None, ALL, Role.ANONYMOUS),
        (Need.NONE, "x", ALL, Role.ANONYMOUS),
        # reads: open without a read token ...
        (Need.READ, None, WRITE_ONLY, Role.ANONYMOUS),
        (Need.READ, None, OPEN, Role.ANONYMOUS),
        (Need.READ, "x", WRITE_ONLY, 401),
        # ... and closed with one: any valid token will do
        (Need.READ, None, ALL, 401),
        (Need.READ, "r-tok", ALL, Role.READER),
        (Need.READ, "w-tok", ALL, Role.WRITER),
        (Need.READ, "a-tok", ALL, Role.ADMIN),
        (Need.READ, "x", ALL, 401),
        # writes: the write or admin token; the read token is known but not enough
        (Need.WRITE, None, ALL, 401),
        (Need.WRITE, "r-tok", ALL, 403),
        (Need.WRITE, "w-tok", ALL, Role.WRITER),
        (Need.WRITE, "a-tok", ALL, Role.ADMIN),
        (Need.WRITE, "x", ALL, 401),
        (Need.WRITE, None, OPEN, Role.ANONYMOUS),  # no write token: writes are open
    ],
)
def test_authorize_table(need: Need, presented: str | None, tokens: Tokens,
                         outcome: Role | int) -> None:
    if isinstance(outcome, Role):
        assert authorize(need, presented, tokens) == outcome
        return
    with pytest.raises(HttpError) as err:
        authorize(need, presented, tokens)
    assert err.value.status == outcome and err.value.field == "authorization"


def test_bearer_header() -> None:
    assert bearer({"Authorization": "Bearer abc "}) == "abc"
    assert bearer({"Authorization": "bearer abc"}) == "abc"
    assert bearer({"Authorization": "Basic abc"}) is None
    assert bearer({"Authorization": "Bearer "}) is None
    assert bearer({}) is None


def test_tokens_never_show_in_repr() -> None:
    assert "w-tok" not in repr(ALL) and "a-tok" not in repr(ALL) and "r-tok" not in repr(ALL)


def test_routes_need_a_token_for_every_read_but_health_and_the_dashboard_shell() -> None:
    open_routes = {r.path for r in ROUTES if r.required is Need.NONE}
    assert open_routes == {"/healthz", "/readyz", "/raft/read-index", "/", "/static/{file}"}
    # A backup holds every secret of the state: it needs what a write needs.
    secret_reads = {"/backup"}
    for route in ROUTES:
        if route.path not in open_routes:
            expected = (Need.READ if route.method == "GET" and route.path not in secret_reads
                        else Need.WRITE)
            assert route.required is expected, route.path


def _peers(*ages: float | None) -> list[dict]:
    return [{"id": "me", "self": True}] + [
        {"id": f"p{i}", "self": False, "last_contact": age} for i, age in enumerate(ages)]


@pytest.mark.parametrize(
    ("peers", "since", "ok"),
    [
        (_peers(), 0.0, True),                 # a group of one
        (_peers(0.01, None), 0.05, True),      # self + one of three
        (_peers(0.10, None), 0.05, False),     # heard from, but before the read began
        (_peers(None, None), 1.0, False),
        (_peers(0.01, 0.02, None, None), 0.05, True),   # 3 of 5
        (_peers(0.01, None, None, None), 0.05, False),  # 2 of 5
        (_peers(0.01, 0.5, 0.5), 0.05, False),  # 2 of 4 is no majority
    ],
)
def test_read_index_needs_a_majority_heard_since_the_read(peers: list[dict], since: float,
                                                          ok: bool) -> None:
    assert confirmed(peers, since) == ok
