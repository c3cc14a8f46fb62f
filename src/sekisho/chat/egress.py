"""How the gateway reaches each provider: proxy, TLS trust, client certificate, SNI.

Enterprises put providers behind an egress proxy and private CAs. For each
upstream origin (scheme, host, port) `EgressPolicy` answers an `Egress`:

    proxy            an HTTP proxy to tunnel through with CONNECT: the provider's
                     `proxy_url`, else HTTPS_PROXY (https) / HTTP_PROXY (http) from the
                     environment unless NO_PROXY names the host
    ssl_context      trust (`ca_bundle`, added to the system store) and a client
                     certificate (`client_cert`, `client_key`) for mutual TLS
    server_hostname  SNI and the name the certificate must carry (`tls_server_name`),
                     by default the URL's host

The policy is built once per matrix (certificate files are read then, so a bad
path fails at start-up or reload, not on a request) and only read after.
NO_PROXY follows curl: comma-separated host names (a name also covers its
sub-domains; a leading dot is allowed), IP addresses or CIDR ranges, each
optionally with `:port`, or `*` for everything.
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sekisho.matrix.model import Matrix, Provider

__all__ = [
    "DIRECT",
    "PROXY_VARIABLES",
    "Egress",
    "EgressPolicy",
    "Proxy",
    "bypasses_proxy",
    "egress_policy",
    "parse_proxy_url",
]

PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY")
Origin = tuple[str, str, int]  # scheme, host, port: the upstream client's pool key


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = None  # a Proxy-Authorization header value

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"  # never the credentials


@dataclass(frozen=True, slots=True)
class Egress:
    proxy: Proxy | None = None
    ssl_context: ssl.SSLContext | None = None  # None: the client's default context
    server_hostname: str | None = None  # None: the URL's host


DIRECT = Egress()


def parse_proxy_url(url: str) -> Proxy:
    """An `http://[user:password@]host[:port]` proxy; ValueError for anything else."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"proxy URL must be http://host:port, got {url!r}")
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode()
    return Proxy(parts.hostname, parts.port or 80, auth)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None


def bypasses_proxy(host: str, port: int, no_proxy: str) -> bool:
    """Whether NO_PROXY (curl's rules, module docstring) exempts host:port."""
    host = host.lower().strip("[]")
    address = _ip(host)
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, want_port = entry, None
        if entry.startswith("["):  # [v6]:port
            name, _, rest = entry[1:].partition("]")
            want_port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif entry.count(":") == 1:
            name, _, port_text = entry.partition(":")
            want_port = int(port_text) if port_text.isdigit() else None
        if want_port is not None and want_port != port:
            continue
        name = name.lstrip(".")
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if host == name or host.endswith("." + name):
            return True
    return False


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name.lower()) or environ.get(name.upper()) or ""


def _tls_context(provider: Provider) -> ssl.SSLContext | None:
    if not (provider.ca_bundle or provider.client_cert):
        return None
    ctx = ssl.create_default_context()
    try:
        if provider.ca_bundle:
            ctx.load_verify_locations(cafile=provider.ca_bundle)
        if provider.client_cert:
            ctx.load_cert_chain(provider.client_cert, provider.client_key or None)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"provider {provider.id!r}: cannot load TLS files: {exc}") from exc
    return ctx


def _origin(base_url: str) -> Origin:
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


class EgressPolicy:
    """Egress per upstream origin: the providers' own settings, then the environment's proxies."""

    def __init__(self, providers: Mapping[Origin, Egress], environ: Mapping[str, str]) -> None:
        self._providers = dict(providers)
        self._https_proxy = _env(environ, "https_proxy")
        self._http_proxy = _env(environ, "http_proxy")
        self._no_proxy = _env(environ, "no_proxy")
        self._env_proxies = {
            "https": parse_proxy_url(self._https_proxy) if self._https_proxy else None,
            "http": parse_proxy_url(self._http_proxy) if self._http_proxy else None,
        }

    def __call__(self, origin: Origin) -> Egress:
        scheme, host, port = origin
        found = self._providers.get((scheme, host.lower(), port), DIRECT)
        if found.proxy is not None:
            return found
        proxy = self._env_proxies.get(scheme)
        if proxy is None or bypasses_proxy(host, port, self._no_proxy):
            return found
        return Egress(proxy, found.ssl_context, found.server_hostname)


def egress_policy(matrix: Matrix, environ: Mapping[str, str]) -> EgressPolicy:
    """The policy for a matrix; ValueError names a provider whose settings cannot be used."""
    per_origin: dict[Origin, Egress] = {}
    contexts: dict[tuple[str, str, str], ssl.SSLContext | None] = {}
    for provider in matrix.providers.values():
        proxy = parse_proxy_url(provider.proxy_url) if provider.proxy_url else None
        files = (provider.ca_bundle, provider.client_cert, provider.client_key)
        if files not in contexts:
            contexts[files] = _tls_context(provider)
        egress = Egress(proxy, contexts[files], provider.tls_server_name or None)
        origin = _origin(provider.base_url)
        if origin in per_origin and per_origin[origin] != egress and egress != DIRECT:
            raise ValueError(
                f"provider {provider.id!r} shares its host with another provider but not its "
                "proxy/TLS settings; give both the same ones"
            )
        if egress != DIRECT or origin not in per_origin:
            per_origin[origin] = egress
    return EgressPolicy(per_origin, {k: v for k, v in environ.items() if k in PROXY_VARIABLES})
