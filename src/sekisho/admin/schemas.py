"""Response models of the admin API's read routes: what the OpenAPI document says they return.

Times are ISO 8601 strings (UTC), as the routes write them; a missing time is null.
Each model lists the keys of the route's answer in the order the route writes them: a
response model drops the keys it does not name and refuses (500) a value of another type.
Only a free-form blob (an event's details, a payload, a ledger entry's body) stays an
object of any keys.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, WithJsonSchema

Number = Annotated[int | float, WithJsonSchema({"type": "number"})]
"""A JSON number kept as computed: an int stays an int (300, not 300.0)."""


class TenantSummary(BaseModel):
    id: str
    name: str
    state: str
    version: int


class TenantList(BaseModel):
    tenants: list[TenantSummary]


class Suspension(BaseModel):
    id: str
    reason: str
    note: str | None
    created_at: str | None
    requested_by: str | None
    authorized_by: str | None
    review_at: str | None
    overdue: bool
    evidence_sha256: str | None
    ended_at: str | None
    ended_kind: str | None
    end_note: str | None


class TenantView(BaseModel):
    id: str
    name: str
    state: str
    state_changed_at: str | None
    version: int
    sovereignty: str | None
    china_gated_access: bool
    allowed_aliases: list[str] | None
    account_owner_email: str | None
    cs_email: str | None
    open_suspension: Suspension | None
    suspensions: list[Suspension]


class OverdueSuspension(BaseModel):
    tenant_id: str
    tenant: str
    suspension_id: str
    reason: str
    suspended_at: str
    review_at: str
    days_overdue: int


class OverdueList(BaseModel):
    overdue: list[OverdueSuspension]


class ApiKeyView(BaseModel):
    id: str
    prefix: str
    name: str | None
    tenant_id: str
    aliases: list[str] | None
    status: str
    blocked_because: str | None
    created_at: str | None
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None


class ApiKeyList(BaseModel):
    keys: list[ApiKeyView]


# --- aliases and the matrix (`sekisho.control.alias_view`) -------------------------


class Circuit(BaseModel):
    """A route's circuit as the live replicas report it (the worst of them)."""

    state: str
    opened_at: Number | None
    open_until: Number | None
    probe_ready_at: Number | None
    trials_in_flight: int
    trial_available: bool
    consecutive_failures: int
    window_requests: int
    window_failures: int
    reopens: int


class AliasRoute(BaseModel):
    label: str
    provider: str
    model: str
    region: str | None
    sovereignty: list[str]
    china_gated: bool | None
    circuit: Circuit


class PlanEntry(BaseModel):
    provider: str
    model: str
    label: str
    decision: str
    reason: str
    order: int | None


class AliasPlan(BaseModel):
    tenant_kind: str
    usable: bool
    denial: str | None
    order: list[str]
    entries: list[PlanEntry]


class AliasOverride(BaseModel):
    """An operator's drain or pin; its times are unix seconds (as the routing reads them)."""

    id: str
    alias: str
    kind: str
    provider: str
    reason: str
    created_by: str
    created_at: float
    expires_at: float
    reverted_at: float | None
    active: bool


class AliasView(BaseModel):
    alias: str
    sovereignty: str | None
    description: str
    routes: list[AliasRoute]
    plans: list[AliasPlan]
    overrides: list[AliasOverride]


class AliasList(BaseModel):
    aliases: list[AliasView]
    matrix_sha256: str


class MatrixInfo(BaseModel):
    sha256: str
    providers: list[str]
    aliases: list[str]


# --- observability (`sekisho.observe`: series, alerts, probes, triage) --------------


class Latency(BaseModel):
    """Milliseconds: percentiles from the rollup's histogram, null without traffic."""

    p50: Number | None
    p95: Number | None
    p99: Number | None
    mean: float | None


class TokenCounts(BaseModel):
    prompt: int
    completion: int


class Totals(BaseModel):
    """Counters of a bucket or a window; `error_rate` is (5xx + 429) / requests."""

    requests: int
    s2xx: int = Field(alias="2xx")
    s4xx: int = Field(alias="4xx")
    s5xx: int = Field(alias="5xx")
    s429: int = Field(alias="429")
    s502: int = Field(alias="502")
    error_rate: float | None
    codes: dict[str, int]
    refused: dict[str, int]
    latency_ms: Latency
    ttfb_ms: Latency
    tokens: TokenCounts


class SeriesBucket(BaseModel):
    """One rollup bucket: its start, then the same counters as `Totals`."""

    ts: str
    requests: int
    s2xx: int = Field(alias="2xx")
    s4xx: int = Field(alias="4xx")
    s5xx: int = Field(alias="5xx")
    s429: int = Field(alias="429")
    s502: int = Field(alias="502")
    error_rate: float | None
    codes: dict[str, int]
    refused: dict[str, int]
    latency_ms: Latency
    ttfb_ms: Latency
    tokens: TokenCounts


class AliasSeries(BaseModel):
    alias: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    bucket_s: int
    buckets: list[SeriesBucket]
    totals: Totals


class TenantSeries(BaseModel):
    tenant: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    bucket_s: int
    buckets: list[SeriesBucket]
    totals: Totals


class ProviderSeries(BaseModel):
    provider: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    bucket_s: int
    buckets: list[SeriesBucket]
    totals: Totals


class AlertFigures(BaseModel):
    """The window's numbers an alert recorded (at firing or at resolution)."""

    window_s: Number | None
    requests: int
    errors: int
    rate: float | None
    baseline_rate: float | None


class Alert(BaseModel):
    id: str
    alias: str
    rule: str
    state: str
    fired_at: str
    resolved_at: str | None
    rate: float
    peak_rate: float
    baseline_rate: float
    details: dict[str, object]
    at_firing: AlertFigures
    at_resolution: AlertFigures | None


class AlertList(BaseModel):
    alerts: list[Alert]


class ProbeSummary(BaseModel):
    """Recent synthetic probes of one provider or alias; `last_*` is null without any."""

    kind: str
    target: str
    total: int
    failed: int
    last_ok: bool | None
    last_at: str | None
    last_outcome: str | None
    last_latency_ms: float | None


class ProbeList(BaseModel):
    providers: list[ProbeSummary]
    aliases: list[ProbeSummary]


class TriageWindow(BaseModel):
    start: str | None = Field(alias="from")
    end: str | None = Field(alias="to")


class TriageOverride(BaseModel):
    id: str
    kind: str
    provider: str
    expires_at: str
    incident_id: str | None


class TriageProvider(BaseModel):
    provider: str
    failing: bool
    probes: ProbeSummary
    attempts: int
    failed_attempts: int
    outcomes: dict[str, int]


class TriageReport(BaseModel):
    alias: str
    verdict: str
    window_s: Number
    window: TriageWindow
    overrides: list[TriageOverride]
    reasons: list[str]
    alias_traffic: Totals
    alias_probe: ProbeSummary
    providers: list[TriageProvider]
    other_aliases_failing_end_to_end: list[str]


# --- incidents (`sekisho.incidents.service.incident_document`) ----------------------


class TimelineEvent(BaseModel):
    id: int
    ts: str
    kind: str
    public: bool
    author: str
    text: str
    details: dict[str, object] | None


class IncidentOverride(BaseModel):
    id: str
    alias: str
    kind: str
    provider: str
    created_at: str
    expires_at: str
    reverted_at: str | None


class ImpactPeriod(BaseModel):
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    requests: int
    errors: int
    error_rate: float | None


class IncidentImpact(BaseModel):
    """Error rates of the incident's aliases before, during and after it (at resolution)."""

    aliases: list[str]
    onset: str
    before: ImpactPeriod
    during: ImpactPeriod
    after: ImpactPeriod


class IncidentEvidence(BaseModel):
    """A bundle captured for the incident (at resolution or on demand)."""

    alias: str
    path: str
    sha256: str
    records: int
    bundle_id: str
    captured_at: str


class IncidentView(BaseModel):
    id: str
    title: str
    severity: str
    status: str
    aliases: list[str]
    eta: str | None
    opened_at: str
    opened_by: str
    resolved_at: str | None
    resolved_by: str | None
    impact: IncidentImpact | None
    timeline: list[TimelineEvent]
    overrides: list[IncidentOverride]
    evidence: list[IncidentEvidence]


class IncidentList(BaseModel):
    incidents: list[IncidentView]


# --- ledger (`sekisho.ledger`: summaries, verification, entries, proofs) ------------


class LedgerSummary(BaseModel):
    name: str
    size: int
    anchored_size: int
    unanchored: int


class LedgerList(BaseModel):
    public_key: str
    ledgers: list[LedgerSummary]


class LedgerProblem(BaseModel):
    ledger: str | None
    seq: int | None
    reason: str


class VerifiedLedger(BaseModel):
    name: str
    size: int
    root: str
    checkpoints: int
    anchored_size: int
    unanchored: int


class LedgerVerification(BaseModel):
    ok: bool
    problems: list[LedgerProblem]
    ledgers: list[VerifiedLedger]
    unanchored: int
    notices: list[str]


class LedgerEntryView(BaseModel):
    """Hashes are lowercase hex; `body` is the entry's canonical body, decoded."""

    ledger: str
    seq: int
    leaf_hash: str
    prev: str
    body: dict[str, object]


class LedgerEntries(BaseModel):
    ledger: str
    start: int
    entries: list[LedgerEntryView]


class CheckpointView(BaseModel):
    size: int
    root: str
    note: str
    created_at: str | None


class LedgerCheckpoints(BaseModel):
    ledger: str
    checkpoints: list[CheckpointView]


class InclusionProofView(BaseModel):
    """`body` is the entry's exact canonical bytes (UTF-8); `proof` the audit path, hex."""

    ledger: str
    seq: int
    body: str
    leaf_hash: str
    tree_size: int
    root: str
    proof: list[str]
    checkpoint: str


class ConsistencyProofView(BaseModel):
    ledger: str
    size1: int
    size2: int
    root1: str
    root2: str
    proof: list[str]
    checkpoint1: str
    checkpoint2: str


# --- evidence bundles and notifications ---------------------------------------------


class BundleWindow(BaseModel):
    start: str = Field(alias="from")
    end: str = Field(alias="to")


class EvidenceBundle(BaseModel):
    id: str
    sha256: str
    purpose: str
    tenant_id: str | None
    alias: str | None
    window: BundleWindow
    created_at: str
    created_by: str
    records: int
    fetchable: bool


class EvidenceList(BaseModel):
    bundles: list[EvidenceBundle]


class NotificationView(BaseModel):
    """A webhook's destination shows its scheme, host and port only."""

    id: str
    tenant_id: str | None
    channel: str
    destination: str
    event: str
    subject: str
    state: str
    attempts: int
    created_at: str
    next_attempt_at: str | None
    delivered_at: str | None
    failed_at: str | None
    last_error: str | None


class NotificationDetail(NotificationView):
    payload: dict[str, object]


class NotificationList(BaseModel):
    notifications: list[NotificationView]


# --- two-step lifecycle requests (`sekisho.lifecycle.requests`) ---------------------


class PersonRef(BaseModel):
    id: str
    email: str
    role: str


class SuspensionRequestView(BaseModel):
    """A request as the caller sees it: `can_*` say what the caller may do with it."""

    id: str
    kind: str
    state: str
    tenant_id: str
    tenant: str
    tenant_state: str
    reason: str
    owner_role: str
    note: str
    review_at: str | None
    requested_by: PersonRef
    requested_at: str
    requested_via: str | None
    decided_by: PersonRef | None
    decided_at: str | None
    decided_via: str | None
    decision_note: str | None
    suspension_id: str | None
    evidence_sha256: str | None
    can_sign_off: bool
    sign_off_refused_because: str | None
    can_withdraw: bool


class SuspensionRequestList(BaseModel):
    requests: list[SuspensionRequestView]


# --- operator tokens, users, the session --------------------------------------------


class OperatorTokenView(BaseModel):
    """A token as listed: its prefix, never the secret."""

    id: str
    prefix: str
    name: str
    user: str
    role: str
    status: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class OperatorTokenList(BaseModel):
    tokens: list[OperatorTokenView]


class UserView(BaseModel):
    id: str
    email: str
    role: str
    tenant_id: str | None
    disabled: bool
    created_at: str


class UserList(BaseModel):
    users: list[UserView]


class SessionUser(BaseModel):
    id: str
    email: str
    role: str
    tenant_id: str | None


class SessionView(BaseModel):
    user: SessionUser
    session_id: str
    expires_at: str
    csrf_token: str


# --- guardrails (`sekisho.guardrails`) ----------------------------------------------


class GuardrailCheck(BaseModel):
    check: str
    action: str
    on_error: str
    timeout_ms: Number | None
    terms: list[str] | None


class GuardrailPolicy(BaseModel):
    """A policy of the config; `version` changes whenever its definition does."""

    version: str
    mode: str
    timeout_ms: Number
    input: list[GuardrailCheck]
    output: list[GuardrailCheck]


class GuardrailPolicies(BaseModel):
    enabled: bool
    default_policy: str
    policies: dict[str, GuardrailPolicy]


class TenantGuardrails(BaseModel):
    tenant_id: str
    policy: str
    assignment_version: int
    policy_version: str | None
    own_policy: bool


class GuardrailEvent(BaseModel):
    """A finding: the check, the kind of value and where it was, a salted hash of it."""

    id: str
    ts: str
    tenant_id: str | None
    key_id: str | None
    user_id: str | None
    request_id: str
    alias: str | None
    stage: str
    check: str
    action: str
    enforced: bool
    kind: str
    location: str
    span_start: int | None
    span_end: int | None
    score: float | None
    value_hash: str | None
    policy: str
    policy_version: str
    latency_ms: float


class GuardrailEventList(BaseModel):
    events: list[GuardrailEvent]
