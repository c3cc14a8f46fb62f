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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sekisho.matrix import Matrix, MatrixCheck, load_matrix_file, validate_matrix
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
    flush_interval_s: float = Field(0.5, gt=0, description="Longest a row waits before it is written.")
    queue_max: int = Field(100_000, ge=100, description="Rows buffered before new rows are dropped and counted.")


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cache_ttl_s: float = Field(
        1.0, gt=0, le=60,
        description="How long a key/tenant lookup is served from memory before it is re-confirmed.",
    )
    max_stale_s: float = Field(
        5.0, gt=0, le=300,
        description="Past this age an entry that cannot be re-confirmed is refused (fail closed).",
    )
    cache_size: int = Field(100_000, ge=10, description="Most keys kept in memory.")


class LedgerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signing_key_path: str = Field(".sekisho/ledger-signing.key", description="Ed25519 key file (created 0600).")
    origin: str = Field("sekisho.local/ledger", description="Checkpoint origin line.")
    checkpoint_interval_s: float = Field(300, gt=0, description="How often checkpoints are signed.")
    publish_dir: str | None = Field(None, description="Directory checkpoints are also written to.")
    publish_webhook: str | None = Field(None, description="URL checkpoints are POSTed to.")


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 above).")
    request_deadline_s: float = Field(120, gt=0, description="Overall deadline of one chat request across attempts.")


_TOP_LEVEL = {
    "circuit", "database_url", "redis_url", "listen", "limits", "request_log", "auth", "ledger",
    "providers", "aliases", "matrix", "state_dir",
}


class Settings(BaseModel):
    """Everything the gateway needs, resolved and validated."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    listen: Listen = Listen()
    limits: Limits = Limits()
    request_log: RequestLogSettings = RequestLogSettings()
    auth: AuthSettings = AuthSettings()
    ledger: LedgerSettings = LedgerSettings()
    state_dir: str = ".sekisho"
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
    settings.secrets = {name: environ[name] for name in needed if name in environ}
    return settings
