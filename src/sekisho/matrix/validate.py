"""Validate a provider matrix document. Pure: no I/O except the given environment.

`validate_matrix(doc, environ)` returns a `MatrixCheck` holding every problem
found (with its location, in plain words) and, when there are no errors, the
built `Matrix`. Warnings (a fallback no request can ever use) do not block.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from sekisho.matrix.leakcheck import leaks_in
from sekisho.matrix.model import Alias, Matrix, Provider, Route

KINDS = ("openai", "anthropic")
_PROVIDER_KEYS = {
    "id",
    "kind",
    "base_url",
    "api_key_env",
    "region",
    "sovereignty",
    "china_gated",
    "timeout_s",
    "connect_timeout_s",
    "name",
    *("proxy_url", "ca_bundle", "client_cert", "client_key", "tls_server_name"),
    "status_url",
}
_EGRESS_KEYS = ("proxy_url", "ca_bundle", "client_cert", "client_key", "tls_server_name")
_ALIAS_KEYS = {"name", "kind", "sovereignty", "route", "fallbacks", "description"}
ALIAS_KINDS = ("chat", "embedding")
EMBEDDING_PROVIDER_KINDS = ("openai",)  # the Anthropic Messages API has no embeddings


@dataclass(frozen=True, slots=True)
class Problem:
    location: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.location}: {self.message}"


@dataclass(slots=True)
class MatrixCheck:
    problems: list[Problem] = field(default_factory=list)
    matrix: Matrix | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def matrix_hash(doc: Mapping[str, Any]) -> str:
    """SHA-256 of the matrix part of a document, independent of key order and comments."""
    part = {"providers": doc.get("providers"), "aliases": doc.get("aliases")}
    return hashlib.sha256(orjson.dumps(part, option=orjson.OPT_SORT_KEYS)).hexdigest()


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def warn(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message, "warning"))


def _str(
    c: _Collector, where: str, obj: Mapping[str, Any], key: str, *, required: bool = True
) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            c.error(f"{where}.{key}", "is required")
        return ""
    if not isinstance(value, str) or not value.strip():
        c.error(f"{where}.{key}", f"must be a non-empty string, got {value!r}")
        return ""
    return value


def _number(c: _Collector, where: str, obj: Mapping[str, Any], key: str, default: float) -> float:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        c.error(f"{where}.{key}", f"must be a positive number of seconds, got {value!r}")
        return default
    return float(value)


def _unknown_keys(c: _Collector, where: str, obj: Mapping[str, Any], allowed: set[str]) -> None:
    for key in obj:
        if key not in allowed:
            c.error(f"{where}.{key}", f"unknown field (allowed: {', '.join(sorted(allowed))})")


def _parse_provider(
    c: _Collector, where: str, raw: Any, environ: Mapping[str, str]
) -> Provider | None:
    if not isinstance(raw, Mapping):
        c.error(where, "must be a mapping with id, kind, base_url, ...")
        return None
    _unknown_keys(c, where, raw, _PROVIDER_KEYS)
    pid = _str(c, where, raw, "id")
    kind = _str(c, where, raw, "kind")
    if kind and kind not in KINDS:
        c.error(f"{where}.kind", f"unknown kind {kind!r} (expected one of: {', '.join(KINDS)})")
    base_url = _str(c, where, raw, "base_url")
    if base_url and not base_url.startswith(("http://", "https://")):
        c.error(f"{where}.base_url", f"must be an http(s) URL, got {base_url!r}")
    key_env = _str(c, where, raw, "api_key_env")
    if key_env and key_env not in environ:
        c.error(f"{where}.api_key_env", f"environment variable {key_env} is not set")
    region = _str(c, where, raw, "region", required=False)
    tags_raw = raw.get("sovereignty", [])
    if not isinstance(tags_raw, list) or not all(isinstance(t, str) and t for t in tags_raw):
        c.error(f"{where}.sovereignty", "must be a list of tag names")
        tags_raw = []
    gated = raw.get("china_gated", False)
    if not isinstance(gated, bool):
        c.error(f"{where}.china_gated", f"must be true or false, got {gated!r}")
        gated = False
    timeout = _number(c, where, raw, "timeout_s", 30.0)
    connect = _number(c, where, raw, "connect_timeout_s", 5.0)
    name = raw.get("name", "")
    egress = {key: _str(c, where, raw, key, required=False) for key in _EGRESS_KEYS}
    proxy = egress["proxy_url"]
    if proxy and not proxy.startswith("http://"):
        # (the value is not repeated: it may hold the proxy's password)
        c.error(f"{where}.proxy_url", "must be an http:// proxy URL (tunnelled with CONNECT)")
    if egress["client_key"] and not egress["client_cert"]:
        c.error(f"{where}.client_key", "needs client_cert")
    status_url = raw.get("status_url", "")
    if not isinstance(status_url, str) or (
        status_url and not status_url.startswith(("https://", "http://"))
    ):
        c.error(f"{where}.status_url", f"must be an http(s) URL, got {status_url!r}")
        status_url = ""
    if not pid or kind not in KINDS:
        return None
    return Provider(
        id=pid,
        kind=kind,  # type: ignore[arg-type]
        base_url=base_url.rstrip("/"),
        api_key_env=key_env,
        region=region,
        sovereignty=frozenset(tags_raw),
        china_gated=gated,
        timeout_s=timeout,
        connect_timeout_s=min(connect, timeout),
        name=name if isinstance(name, str) else "",
        **egress,
        status_url=status_url,
    )


def _parse_route(c: _Collector, where: str, raw: Any) -> Route | None:
    if not isinstance(raw, Mapping):
        c.error(where, "must be a mapping {provider: ID, model: NAME}")
        return None
    _unknown_keys(c, where, raw, {"provider", "model"})
    provider = _str(c, where, raw, "provider")
    model = _str(c, where, raw, "model")
    return Route(provider, model) if provider and model else None


def _parse_alias(c: _Collector, where: str, raw: Any) -> Alias | None:
    if not isinstance(raw, Mapping):
        c.error(where, "must be a mapping with name, route, fallbacks")
        return None
    _unknown_keys(c, where, raw, _ALIAS_KEYS)
    name = _str(c, where, raw, "name")
    tag = raw.get("sovereignty")
    if tag is not None and (not isinstance(tag, str) or not tag):
        c.error(f"{where}.sovereignty", f"must be one tag name, got {tag!r}")
        tag = None
    route = _parse_route(c, f"{where}.route", raw.get("route"))
    fallbacks_raw = raw.get("fallbacks", [])
    if not isinstance(fallbacks_raw, list):
        c.error(f"{where}.fallbacks", "must be a list of routes")
        fallbacks_raw = []
    fallbacks = [
        _parse_route(c, f"{where}.fallbacks[{i}]", fb) for i, fb in enumerate(fallbacks_raw)
    ]
    description = raw.get("description", "")
    kind = raw.get("kind", "chat")
    if kind not in ALIAS_KINDS:
        c.error(f"{where}.kind", f"must be one of {', '.join(ALIAS_KINDS)}, got {kind!r}")
        return None
    if not name or route is None or any(fb is None for fb in fallbacks):
        return None
    return Alias(
        kind=kind,
        name=name,
        route=route,
        fallbacks=tuple(fb for fb in fallbacks if fb is not None),
        sovereignty=tag,
        description=description if isinstance(description, str) else "",
    )


def _check_alias(
    c: _Collector, where: str, alias: Alias, providers: Mapping[str, Provider]
) -> None:
    for i, route in enumerate(alias.routes):
        loc = f"{where}.route" if i == 0 else f"{where}.fallbacks[{i - 1}]"
        provider = providers.get(route.provider)
        if provider is None:
            c.error(f"{loc}.provider", f"unknown provider {route.provider!r}")
            continue
        if alias.kind == "embedding" and provider.kind not in EMBEDDING_PROVIDER_KINDS:
            c.error(
                f"{loc}.provider",
                f"embedding alias {alias.name!r} routes to {provider.id!r} of kind "
                f"{provider.kind!r}, which serves no embeddings (use an openai-kind provider)",
            )
        if i == 0:
            if not provider.satisfies(alias.required_tags):
                c.error(
                    f"{loc}.provider",
                    f"alias requires {alias.sovereignty} but its primary provider "
                    f"{provider.id!r} does not satisfy it",
                )
            continue
        if provider.china_gated:
            c.error(
                f"{loc}.provider", f"China-gated provider {provider.id!r} may never be a fallback"
            )
        elif not provider.satisfies(alias.required_tags):
            c.warn(
                f"{loc}.provider",
                f"fallback {provider.id!r} does not satisfy the alias requirement "
                f"{alias.sovereignty}: no request can ever use it",
            )
        if route == alias.route or alias.routes.index(route) != i:
            c.warn(
                f"{loc}",
                f"route {route.provider}/{route.model} is listed twice; the repeat is never tried",
            )


def _check_descriptions(c: _Collector, aliases_raw: list[Any], matrix: Matrix) -> None:
    """Alias descriptions are shown on /status: they must not name a provider (Rule 1)."""
    positions = {a.get("name"): i for i, a in enumerate(aliases_raw) if isinstance(a, Mapping)}
    for alias in matrix.aliases.values():
        leaks = leaks_in(alias.description, matrix) if alias.description else []
        if leaks:
            c.error(
                f"aliases[{positions.get(alias.name, '?')}].description",
                f"customer-facing description reveals provider identity ({', '.join(leaks)}); "
                "describe the alias without naming providers, models, regions or places",
            )


def validate_matrix(doc: Any, environ: Mapping[str, str]) -> MatrixCheck:
    """Check a parsed matrix document; build the `Matrix` when it has no errors."""
    c = _Collector()
    if not isinstance(doc, Mapping):
        c.error("(file)", "must be a YAML mapping with 'providers' and 'aliases'")
        return MatrixCheck(c.problems)
    providers_raw = doc.get("providers")
    aliases_raw = doc.get("aliases")
    if not isinstance(providers_raw, list) or not providers_raw:
        c.error("providers", "must be a non-empty list")
        providers_raw = []
    if not isinstance(aliases_raw, list) or not aliases_raw:
        c.error("aliases", "must be a non-empty list")
        aliases_raw = []

    providers: dict[str, Provider] = {}
    for i, raw in enumerate(providers_raw):
        provider = _parse_provider(c, f"providers[{i}]", raw, environ)
        if provider is None:
            continue
        if provider.id in providers:
            c.error(f"providers[{i}].id", f"duplicate provider id {provider.id!r}")
            continue
        providers[provider.id] = provider

    aliases: dict[str, Alias] = {}
    for i, raw in enumerate(aliases_raw):
        alias = _parse_alias(c, f"aliases[{i}]", raw)
        if alias is None:
            continue
        if alias.name in aliases:
            c.error(f"aliases[{i}].name", f"duplicate alias {alias.name!r}")
            continue
        _check_alias(c, f"aliases[{i}]", alias, providers)
        aliases[alias.name] = alias

    _check_descriptions(c, aliases_raw, Matrix(providers=providers, aliases=aliases))
    check = MatrixCheck(c.problems)
    if check.ok:
        check.matrix = Matrix(providers=providers, aliases=aliases, content_hash=matrix_hash(doc))
    return check
