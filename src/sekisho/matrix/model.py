"""The provider matrix: providers, aliases and their sovereignty facts.

These are plain frozen values. They are built by `matrix.validate` from a
parsed YAML document and never mutated; a reload builds a new `Matrix`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ProviderKind = Literal["openai", "anthropic"]
AliasKind = Literal["chat", "embedding"]  # which API serves the alias
SovereigntyTag = str


@dataclass(frozen=True, slots=True)
class Provider:
    """A managed upstream LLM API. Internal: never shown to a customer."""

    id: str
    kind: ProviderKind
    base_url: str
    api_key_env: str
    region: str
    sovereignty: frozenset[SovereigntyTag] = frozenset()
    china_gated: bool = False
    timeout_s: float = 30.0
    connect_timeout_s: float = 5.0
    name: str = ""
    # Egress (chat/egress.py): an HTTP CONNECT proxy, extra trust, mutual TLS, SNI.
    proxy_url: str = ""
    ca_bundle: str = ""
    client_cert: str = ""
    client_key: str = ""
    tls_server_name: str = ""
    status_url: str = ""  # the provider's own status page (internal: console only)

    def satisfies(self, tags: frozenset[SovereigntyTag]) -> bool:
        return tags <= self.sovereignty


@dataclass(frozen=True, slots=True)
class Route:
    provider: str
    model: str


@dataclass(frozen=True, slots=True)
class Alias:
    """The customer-facing model name with its primary and fallback routes."""

    name: str
    route: Route
    fallbacks: tuple[Route, ...] = ()
    sovereignty: SovereigntyTag | None = None
    description: str = ""
    kind: AliasKind = "chat"

    @property
    def routes(self) -> tuple[Route, ...]:
        return (self.route, *self.fallbacks)

    @property
    def required_tags(self) -> frozenset[SovereigntyTag]:
        return frozenset({self.sovereignty}) if self.sovereignty else frozenset()


@dataclass(frozen=True, slots=True)
class Matrix:
    providers: dict[str, Provider] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    content_hash: str = ""

    def provider_for(self, route: Route) -> Provider:
        return self.providers[route.provider]

    def identity_strings(self) -> list[str]:
        """Every string that would reveal a provider: ids, names, regions, hosts."""
        from urllib.parse import urlsplit

        found: set[str] = set()
        for p in self.providers.values():
            found.update(s for s in (p.id, p.name, p.region) if s)
            host = urlsplit(p.base_url).hostname
            if host:
                found.add(host)
        return sorted(found)
