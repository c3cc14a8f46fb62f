"""Matrix, tenant, health and override values for the routing tests, and hypothesis strategies.

Matrices are built directly (not through `validate_matrix`) so tests can hand
the planner the bad matrices a bypassed validator would let through.
"""

from __future__ import annotations

from hypothesis import strategies as st

from sekisho.matrix.model import Alias, Matrix, Provider, Route
from sekisho.routing.circuit import CircuitView
from sekisho.routing.overrides import Override
from sekisho.routing.policy import TenantPolicy

JP = "jp_sovereign"
EU = "eu_sovereign"


def provider(pid: str, *tags: str, china: bool = False) -> Provider:
    return Provider(
        id=pid,
        kind="openai",
        base_url=f"http://{pid}.invalid/v1",
        api_key_env="KEY",
        region="r",
        sovereignty=frozenset(tags),
        china_gated=china,
    )


def route(spec: str) -> Route:
    pid, _, model = spec.partition("/")
    return Route(pid, model or "m")


def alias(name: str, primary: str, *fallbacks: str, sovereignty: str | None = None) -> Alias:
    return Alias(name, route(primary), tuple(route(f) for f in fallbacks), sovereignty)


def matrix(providers: list[Provider], aliases: list[Alias]) -> Matrix:
    return Matrix({p.id: p for p in providers}, {a.name: a for a in aliases})


def demo_matrix() -> Matrix:
    """A small matrix shaped like the demo: JP, global and China-gated aliases."""
    return matrix(
        [
            provider("kumo", JP),
            provider("hoshi", JP),
            provider("global"),
            provider("eu", EU),
            provider("cn", china=True),
        ],
        [
            alias("chat-jp", "kumo", "hoshi", "global", sovereignty=JP),
            alias("chat-large", "global", "kumo", "hoshi", "eu"),
            alias("chat-cn", "cn", "global"),
        ],
    )


def tenant(
    sovereignty: str | None = None,
    *,
    china: bool = False,
    allowed: set[str] | None = None,
    key: set[str] | None = None,
) -> TenantPolicy:
    return TenantPolicy(
        "t1",
        sovereignty,
        china,
        None if allowed is None else frozenset(allowed),
        None if key is None else frozenset(key),
    )


def override(
    oid: str,
    alias_name: str,
    kind: str,
    pid: str,
    *,
    reason: str = "maintenance",
    created_at: float = 0.0,
    expires_at: float = 1e9,
    reverted_at: float | None = None,
) -> Override:
    return Override(
        oid,
        alias_name,
        kind,  # type: ignore[arg-type]  # tests also hand in invalid kinds
        pid,
        reason,
        "op@example.com",
        created_at,
        expires_at,
        reverted_at,
    )


def open_view(
    opened_at: float, open_until: float, probe_ready_at: float | None = None
) -> CircuitView:
    ready = opened_at + 5.0 if probe_ready_at is None else probe_ready_at
    return CircuitView("open", opened_at=opened_at, open_until=open_until, probe_ready_at=ready)


# --- hypothesis strategies ---------------------------------------------------

TAGS = (JP, EU)
PIDS = tuple(f"p{i}" for i in range(6))
MODELS = ("m1", "m2")
times = st.floats(min_value=0, max_value=2000, allow_nan=False)


@st.composite
def matrices(draw: st.DrawFn) -> Matrix:
    """Random matrices, deliberately including what the validator would refuse."""
    n = draw(st.integers(1, len(PIDS)))
    providers = [
        provider(pid, *draw(st.sets(st.sampled_from(TAGS))), china=draw(st.booleans()))
        for pid in PIDS[:n]
    ]
    # "ghost" is a provider id missing from the matrix: a bypassed validator.
    pid = (
        st.sampled_from([*PIDS[:n], "ghost"]) if draw(st.booleans()) else st.sampled_from(PIDS[:n])
    )
    routes = st.builds(Route, pid, st.sampled_from(MODELS))
    aliases = [
        Alias(
            f"a{i}",
            draw(routes),
            tuple(draw(st.lists(routes, max_size=5))),
            draw(st.sampled_from((None, *TAGS))),
        )
        for i in range(draw(st.integers(1, 4)))
    ]
    return matrix(providers, aliases)


@st.composite
def tenants(draw: st.DrawFn, m: Matrix) -> TenantPolicy:
    names = sorted(m.aliases)
    scope = st.none() | st.frozensets(st.sampled_from([*names, "other"]))
    return TenantPolicy(
        draw(st.sampled_from(("t1", "t2"))),
        draw(st.sampled_from((None, *TAGS, "unknown_tag"))),
        draw(st.booleans()),
        draw(scope),
        draw(scope),
    )


views = st.one_of(
    st.just(CircuitView("closed")),
    st.builds(
        CircuitView,
        st.just("open"),
        opened_at=st.none() | times,
        open_until=st.none() | times,
        probe_ready_at=st.none() | times,
    ),
    st.builds(
        CircuitView,
        st.just("half_open"),
        opened_at=st.none() | times,
        trial_available=st.booleans(),
    ),
)


def healths(m: Matrix) -> st.SearchStrategy[dict[Route, CircuitView]]:
    keys = sorted(
        {r for a in m.aliases.values() for r in a.routes}, key=lambda r: (r.provider, r.model)
    )
    return st.dictionaries(st.sampled_from(keys), views) if keys else st.just({})


def override_lists(m: Matrix) -> st.SearchStrategy[list[Override]]:
    one = st.builds(
        Override,
        id=st.sampled_from(("1", "2", "3", "4")),
        alias=st.sampled_from([*sorted(m.aliases), "other"]),
        kind=st.sampled_from(("drain", "pin")),
        provider=st.sampled_from([*PIDS, "ghost"]),
        reason=st.just("drill"),
        created_by=st.just("op"),
        created_at=times,
        expires_at=times,
        reverted_at=st.none() | times,
    )
    return st.lists(one, max_size=5)
