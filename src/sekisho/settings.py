"""One typed settings object, validated at start-up.

This is the only module that reads the process environment. The CLI builds
`Settings` from the YAML config file (`--config FILE` or `SEKISHO_CONFIG`) and
hands it to `create_app`; nothing else looks at `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sekisho.chat.egress import PROXY_VARIABLES
from sekisho.guardrails.config import GuardrailSettings
from sekisho.matrix import Matrix, MatrixCheck, load_matrix_file, validate_matrix
from sekisho.quotas.limits import QuotaLimits
from sekisho.routing.circuit import CircuitSettings

DEFAULT_DATABASE_URL = "sqlite:///./.sekisho/sekisho.db"


class ConfigError(Exception):
    """The config file is missing, unreadable or invalid; the message says where."""


class Listen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field("127.0.0.1", description="Address the gateway binds to.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port the gateway binds to.")


class RequestLogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_size: int = Field(500, ge=1, description="Rows written per batch.")
    flush_interval_s: float = Field(
        0.5, gt=0, description="Longest a row waits before it is written."
    )
    queue_max: int = Field(
        100_000, ge=100, description="Rows buffered before new rows are dropped and counted."
    )
    retention_days: int | None = Field(
        None,
        ge=1,
        description="PostgreSQL: drop request-log partitions older than this many days (default: keep all).",
    )


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cache_ttl_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How long a key/tenant lookup is served from memory before it is re-confirmed.",
    )
    max_stale_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="Past this age an entry that cannot be re-confirmed is refused (fail closed).",
    )
    cache_size: int = Field(100_000, ge=10, description="Most keys kept in memory.")
    store_timeout_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="A credential lookup the store has not answered by then counts as failed (fail closed).",
    )


class LedgerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signing_key_path: str = Field(
        ".sekisho/ledger-signing.key", description="Ed25519 key file (created 0600)."
    )
    origin: str = Field("sekisho.local/ledger", description="Checkpoint origin line.")
    checkpoint_interval_s: float = Field(300, gt=0, description="How often checkpoints are signed.")
    publish_dir: str | None = Field(None, description="Directory checkpoints are also written to.")
    publish_webhook: str | None = Field(None, description="URL checkpoints are POSTed to.")


class Limits(BaseModel):
    """What every entry point reads at most, and for how long (docs/configuration.md)."""

    model_config = ConfigDict(extra="forbid")
    max_body_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="Largest request body on the data plane (/v1, /chat) (413 above).",
    )
    control_max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body everywhere else: /admin/v1, /console, /status, ops (413 above).",
    )
    max_header_bytes: int = Field(
        32 * 1024,
        ge=1024,
        description="Largest request line plus headers of one request (431 above).",
    )
    max_header_count: int = Field(
        100, ge=8, description="Most header fields in one request (431 above)."
    )
    header_timeout_s: float = Field(
        10,
        gt=0,
        description="Longest a client may take to send a request line and headers (408, then closed).",
    )
    body_timeout_s: float = Field(
        30,
        gt=0,
        description="Longest a client may take to send a whole request body once its headers are in (408).",
    )
    keep_alive_timeout_s: float = Field(
        5,
        gt=0,
        description="An idle connection (no request in progress, none begun) is closed after this.",
    )
    max_connections: int = Field(
        10_000,
        ge=1,
        description="Most open connections per process; a request on one past it gets 503 and the connection is closed.",
    )
    request_deadline_s: float = Field(
        120, gt=0, description="Overall deadline of one chat request across attempts."
    )


class ChatSettings(BaseModel):
    """The chat core: what is passed on from upstream, and how requests end at shutdown."""

    model_config = ConfigDict(extra="forbid")
    retry_after_default_s: float = Field(
        5, ge=0, description="Retry-After sent on an upstream 429 when upstream named none."
    )
    retry_after_min_s: float = Field(
        1, ge=0, description="Lower bound of the Retry-After passed on from upstream."
    )
    retry_after_max_s: float = Field(
        60, ge=1, description="Upper bound of the Retry-After passed on from upstream."
    )
    shutdown_drain_s: float = Field(
        5,
        gt=0,
        description="At shutdown, how long requests still in flight get to end and log their rows.",
    )

    @model_validator(mode="after")
    def _bounds_in_order(self) -> ChatSettings:
        if self.retry_after_min_s > self.retry_after_max_s:
            raise ValueError("retry_after_min_s must not exceed retry_after_max_s")
        return self


class CorsSettings(BaseModel):
    """Cross-origin access for browser clients; off unless origins are listed."""

    model_config = ConfigDict(extra="forbid")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) allowed to call the API from a browser; '*' for any; empty = CORS off.",
    )
    paths: list[str] = Field(
        default_factory=lambda: ["/v1/"],
        description="Path prefixes CORS applies to (the admin API and pages stay same-origin).",
    )
    allowed_headers: list[str] = Field(
        default_factory=lambda: [
            "authorization",
            "content-type",
            "x-api-key",
            "anthropic-version",
            "anthropic-beta",
            "anthropic-dangerous-direct-browser-access",
            "openai-organization",
            "openai-project",
            "x-stainless-arch",
            "x-stainless-lang",
            "x-stainless-os",
            "x-stainless-package-version",
            "x-stainless-retry-count",
            "x-stainless-runtime",
            "x-stainless-runtime-version",
            "x-stainless-timeout",
        ],
        description="Request headers a preflight may ask for.",
    )
    expose_headers: list[str] = Field(
        default_factory=lambda: ["x-request-id", "retry-after"],
        description="Response headers a browser script may read.",
    )
    max_age_s: int = Field(
        600, ge=0, description="How long a browser may cache a preflight answer."
    )


class ObserveSettings(BaseModel):
    """Request-log rollups, spike alerts, probes, metrics and the status page (docs/observability.md)."""

    model_config = ConfigDict(extra="forbid")
    rollup_bucket_s: int = Field(
        60,
        ge=1,
        le=3600,
        description="Width of one rollup bucket in seconds (1 minute; drills use less).",
    )
    rollup_flush_s: float = Field(
        5.0, gt=0, description="How often each replica writes its rollup deltas."
    )
    alert_window_s: float = Field(
        300, gt=0, description="Spike rule: the window whose 5xx/429 rate is judged."
    )
    alert_baseline_s: float = Field(
        3600,
        gt=0,
        description="Spike rule: the period before the window that gives the baseline rate.",
    )
    alert_threshold: float = Field(
        0.05, gt=0, le=1, description="Spike rule: the window's 5xx/429 rate must reach this."
    )
    alert_baseline_factor: float = Field(
        3.0, ge=1, description="Spike rule: ...and be this many times the baseline rate."
    )
    alert_min_requests: int = Field(
        20, ge=1, description="Spike rule: fewer requests in the window never fire."
    )
    alert_resolve_ratio: float = Field(
        0.5, gt=0, le=1, description="An alert resolves when the rate drops below threshold x this."
    )
    alert_interval_s: float = Field(15, gt=0, description="How often the rules are evaluated.")
    probes_enabled: bool = Field(True, description="Run synthetic probes (one replica at a time).")
    probe_interval_s: float = Field(30, gt=0, description="Seconds between probe rounds.")
    probe_timeout_s: float = Field(10, gt=0, description="Longest one probe may take.")
    probe_retention_s: float = Field(
        7 * 86400, gt=0, description="How long probe results are kept."
    )
    metrics_public: bool = Field(
        True,
        description="Serve alias-level /metrics without credentials; provider-labelled series always need an operator token.",
    )
    status_window_s: float = Field(
        300, gt=0, description="Status page: live-traffic window judged."
    )
    status_min_requests: int = Field(
        5, ge=1, description="Status page: fewer requests and the probes decide alone."
    )
    status_degraded_rate: float = Field(
        0.05, gt=0, le=1, description="Status page: 5xx/429 rate at which an alias is degraded."
    )
    status_outage_rate: float = Field(
        0.5, gt=0, le=1, description="Status page: 5xx/429 rate at which an alias is in outage."
    )
    status_cache_s: float = Field(
        5, ge=0, description="Status page: seconds one computed view is served."
    )
    status_resolved_visible_s: float = Field(
        21600,
        ge=0,
        description="Status page: how long a resolved incident and its final update stay shown.",
    )


class IncidentSettings(BaseModel):
    """Incidents: ops-channel webhook, impact windows, evidence files."""

    model_config = ConfigDict(extra="forbid")
    ops_webhook_url: str | None = Field(
        None,
        description="Slack-compatible incoming-webhook URL of the ops channel (internal: may name providers).",
    )
    ops_webhook_timeout_s: float = Field(
        3, gt=0, description="Longest a post to the ops channel may take."
    )
    after_window_s: float = Field(
        300, gt=0, description="Resolve: the recent window whose error rate is reported as 'after'."
    )
    before_window_s: float = Field(
        3600, gt=0, description="Resolve: the longest window before opening reported as 'before'."
    )
    evidence_dir: str | None = Field(
        None,
        description="Where incident evidence bundles go (default: <state_dir>/evidence/incidents).",
    )


class IdentitySettings(BaseModel):
    """Sign-in, browser sessions and sign-in throttling (docs/tenant-lifecycle.md)."""

    model_config = ConfigDict(extra="forbid")
    session_idle_timeout_s: float = Field(
        1800, gt=0, description="A session unused this long is dead."
    )
    session_absolute_timeout_s: float = Field(
        12 * 3600, gt=0, description="A session older than this is dead, however active."
    )
    session_touch_interval_s: float = Field(
        60,
        ge=0,
        description="How often a session's last-seen time is written (bounds writes per request).",
    )
    cookie_name: str = Field("sekisho_session", description="Name of the HttpOnly session cookie.")
    cookie_secure: bool | None = Field(
        None, description="Mark the cookie Secure; default: when the request came over https."
    )
    cookie_samesite: str = Field(
        "strict", pattern="^(strict|lax)$", description="SameSite attribute of the session cookie."
    )
    signin_max_failures: int = Field(
        5,
        ge=1,
        description="Failed sign-ins per e-mail (and per client address x4) before throttling.",
    )
    signin_window_s: float = Field(
        900,
        gt=0,
        description="Window over which failed sign-ins are counted, and how long a throttle lasts.",
    )
    operator_token_ttl_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Lifetime of an operator token created without an explicit expiry.",
    )


class BusSettings(BaseModel):
    """Cross-replica invalidation: Redis pub/sub, else PostgreSQL LISTEN/NOTIFY, plus a version poll."""

    model_config = ConfigDict(extra="forbid")
    channel: str = Field(
        "sekisho_invalidate",
        pattern="^[a-z][a-z0-9_]{0,62}$",
        description="Redis channel / PostgreSQL NOTIFY channel carrying invalidations.",
    )
    poll_interval_s: float | None = Field(
        None,
        gt=0,
        description="Tenant-version poll, the safety net under the push bus (default: 2 s with a push bus, 0.5 s without).",
    )


class LifecycleSettings(BaseModel):
    """Suspension reviews, evidence snapshots, overdue tracking."""

    model_config = ConfigDict(extra="forbid")
    review_default_days: int = Field(
        14, ge=1, le=365, description="Review date of a suspension when none is given."
    )
    evidence_window_s: float = Field(
        86400, gt=0, description="Window of request log a security suspension snapshots first."
    )
    overdue_check_interval_s: float = Field(
        3600,
        gt=0,
        description="How often overdue suspensions are looked for (each is notified to operators once a day).",
    )


class NotifySettings(BaseModel):
    """The notification outbox: webhook (HMAC-signed JSON) and e-mail over SMTP."""

    model_config = ConfigDict(extra="forbid")
    webhook_url: str | None = Field(
        None, description="URL every notification event is POSTed to as signed JSON."
    )
    webhook_secret_env: str | None = Field(
        None, description="Environment variable holding the webhook HMAC-SHA256 key."
    )
    webhook_timeout_s: float = Field(5, gt=0, description="Longest one webhook delivery may take.")
    smtp_host: str | None = Field(
        None, description="SMTP server; no e-mail is sent without it (rows wait in the outbox)."
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = Field(None, description="SMTP login name.")
    smtp_password_env: str | None = Field(
        None, description="Environment variable holding the SMTP password."
    )
    smtp_from: str = Field("sekisho@localhost", description="From address of notification e-mail.")
    smtp_timeout_s: float = Field(10, gt=0, description="Longest one SMTP delivery may take.")
    worker_interval_s: float = Field(
        2.0, gt=0, description="How often each replica's worker looks for due notifications."
    )
    max_attempts: int = Field(
        8, ge=1, description="Deliveries tried before a notification is marked failed."
    )
    retry_base_s: float = Field(
        5, gt=0, description="First retry delay; doubles per attempt (capped at one hour)."
    )


class QuotaSettings(BaseModel):
    """Defaults for every tenant (absent = unlimited); tenants override them one by one."""

    model_config = ConfigDict(extra="forbid")

    rpm: int | None = Field(None, gt=0, description="Requests per minute, per tenant.")
    tpm: int | None = Field(
        None, gt=0, description="Tokens per minute, per tenant (reserved before, reconciled after)."
    )
    concurrent_streams: int | None = Field(None, gt=0, description="Open streams, per tenant.")
    monthly_tokens: int | None = Field(
        None,
        gt=0,
        description="Token budget per calendar month (UTC); 429 insufficient_quota when spent.",
    )
    key_rpm: int | None = Field(None, gt=0, description="Requests per minute, per API key.")
    key_tpm: int | None = Field(None, gt=0, description="Tokens per minute, per API key.")
    key_concurrent_streams: int | None = Field(None, gt=0, description="Open streams, per API key.")
    default_completion_tokens: int = Field(
        1024, gt=0, description="Completion tokens reserved for a request that sets no max_tokens."
    )
    stream_lease_s: float = Field(
        300, gt=0, description="Longest a stream holds its concurrency slot if its replica dies."
    )
    redis_retry_s: float = Field(
        1.0,
        gt=0,
        description="After Redis fails, how long to use this replica's share before retrying.",
    )
    redis_timeout_s: float = Field(
        1.0,
        gt=0,
        le=30,
        description=(
            "How long a quota check waits for Redis (to connect or to answer) before this "
            "replica counts its own share instead."
        ),
    )
    refresh_s: float = Field(
        2.0, gt=0, description="How often each replica re-reads per-tenant quota overrides."
    )

    def limits(self) -> QuotaLimits:
        return QuotaLimits(
            rpm=self.rpm,
            tpm=self.tpm,
            concurrent_streams=self.concurrent_streams,
            monthly_tokens=self.monthly_tokens,
            key_rpm=self.key_rpm,
            key_tpm=self.key_tpm,
            key_concurrent_streams=self.key_concurrent_streams,
        )


_TOP_LEVEL = {
    "circuit",
    "database_url",
    "redis_url",
    "listen",
    "limits",
    "cors",
    "request_log",
    "auth",
    "ledger",
    "providers",
    "aliases",
    "matrix",
    "state_dir",
    "observe",
    "incidents",
    "identity",
    "bus",
    "lifecycle",
    "notify",
    "chat",
    "guardrails",
    "quotas",
}


class Settings(BaseModel):
    """Everything the gateway needs, resolved and validated."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the store; postgresql:// URLs use psycopg 3.",
    )
    redis_url: str | None = Field(
        None, description="Redis for invalidation and shared counters across replicas."
    )
    listen: Listen = Listen()
    limits: Limits = Limits()
    cors: CorsSettings = CorsSettings()
    request_log: RequestLogSettings = RequestLogSettings()
    auth: AuthSettings = AuthSettings()
    ledger: LedgerSettings = LedgerSettings()
    observe: ObserveSettings = ObserveSettings()
    incidents: IncidentSettings = IncidentSettings()
    identity: IdentitySettings = IdentitySettings()
    bus: BusSettings = BusSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    notify: NotifySettings = NotifySettings()
    chat: ChatSettings = ChatSettings()
    guardrails: GuardrailSettings = GuardrailSettings()
    quotas: QuotaSettings = QuotaSettings()
    state_dir: str = Field(".sekisho", description="Where local state lives (demo database, keys).")
    circuit: dict[str, float] = Field(
        default_factory=dict,
        description="Circuit-breaker thresholds (see sekisho.routing.circuit.CircuitSettings).",
    )
    config_path: Path | None = None
    matrix: Matrix = Field(default_factory=Matrix)
    secrets: dict[str, str] = Field(default_factory=dict, repr=False)

    def provider_api_key(self, provider_id: str) -> str:
        provider = self.matrix.providers[provider_id]
        return self.secrets.get(provider.api_key_env, "")

    def circuit_settings(self) -> CircuitSettings:
        return CircuitSettings(**self.circuit)  # type: ignore[arg-type]

    def apply_matrix(self, matrix: Matrix) -> None:
        """Adopt a reloaded matrix and the secrets its providers name."""
        env = _environment()
        needed = {p.api_key_env for p in matrix.providers.values()}
        self.secrets = {**self.secrets, **{n: env[n] for n in needed if n in env}}
        self.matrix = matrix

    def reload_matrix(self) -> MatrixCheck:
        """Re-read the matrix from the config file; the caller swaps it in only if ok."""
        if self.config_path is None:
            raise ConfigError("no config file to reload the matrix from")
        return load_matrix_file(self.config_path, _environment())


def _environment() -> Mapping[str, str]:
    return dict(os.environ)


def environment() -> Mapping[str, str]:
    """A snapshot of the process environment (for matrix checks of secret variables)."""
    return _environment()


def password_from_env() -> str | None:
    """`SEKISHO_PASSWORD`, used by `sekisho user create` instead of a prompt."""
    return os.environ.get("SEKISHO_PASSWORD") or None


def operator_from_env(explicit: str | None) -> str | None:
    """`--as EMAIL`, else `SEKISHO_OPERATOR`: the platform user a CLI command acts as."""
    return (explicit or os.environ.get("SEKISHO_OPERATOR") or "").strip() or None


def config_path_from_env(explicit: str | None) -> Path | None:
    value = explicit or os.environ.get("SEKISHO_CONFIG")
    return Path(value) if value else None


def load_settings(path: Path, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate a config file. Raises `ConfigError` with every problem."""
    env = dict(environ if environ is not None else _environment())
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: config must be a YAML mapping")
    return settings_from_document(doc, env, config_path=path)


def settings_from_document(
    doc: Mapping[str, Any], environ: Mapping[str, str], *, config_path: Path | None = None
) -> Settings:
    """Build settings from an already parsed config document."""
    unknown = sorted(set(doc) - _TOP_LEVEL)
    if unknown:
        raise ConfigError(f"unknown config field(s): {', '.join(unknown)}")
    if isinstance(doc.get("matrix"), str):
        base = config_path.parent if config_path else Path.cwd()
        check = load_matrix_file((base / doc["matrix"]).resolve(), environ)
    else:
        check = validate_matrix(doc, environ)
    if not check.ok or check.matrix is None:
        raise ConfigError("invalid provider matrix:\n" + "\n".join(f"  {p}" for p in check.errors))
    plain = {k: v for k, v in doc.items() if k in _TOP_LEVEL - {"providers", "aliases", "matrix"}}
    plain["database_url"] = plain.get("database_url") or DEFAULT_DATABASE_URL
    try:
        settings = Settings(**plain, matrix=check.matrix, config_path=config_path)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid config:\n" + "\n".join(lines)) from exc
    try:
        settings.circuit_settings()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid circuit settings: {exc}") from exc
    needed = {p.api_key_env for p in check.matrix.providers.values()}
    needed |= {
        n
        for n in (
            settings.notify.webhook_secret_env,
            settings.notify.smtp_password_env,
            settings.guardrails.hash_salt_env,
        )
        if n
    }
    needed |= set(PROXY_VARIABLES)  # egress proxies (chat/egress.py); may hold credentials
    settings.secrets = {name: environ[name] for name in needed if name in environ}
    return settings
