"""Egress as enterprises run it: a CONNECT proxy, a private CA, mutual TLS, SNI, IPv6.

The upstream is a local TLS server whose certificate comes from a CA made by
`trustme`; the proxy is a CONNECT proxy written here, on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import pytest
import trustme

from sekisho.chat.egress import (
    Egress,
    EgressPolicy,
    bypasses_proxy,
    egress_policy,
    parse_proxy_url,
)
from sekisho.chat.upstream import UpstreamClient, UpstreamFailure
from sekisho.matrix.model import Matrix, Provider

from .wire import ScriptedServer, answer_each, post, response


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that records what it was asked."""

    def __init__(self, *, require_auth: str | None = None, refuse: bool = False) -> None:
        self.require_auth = require_auth
        self.refuse = refuse
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.relayed = 0  # bytes relayed client -> upstream
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> ConnectProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ")
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
        self.requests.append((f"{method} {target}", headers))
        if self.refuse or method != "CONNECT":
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        if self.require_auth and headers.get("proxy-authorization") != self.require_auth:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            writer.close()
            return
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    if count:
                        self.relayed += len(data)
                    dst.write(data)
                    await dst.drain()
            dst.close()

        for task in (pipe(reader, up_writer, True), pipe(up_reader, writer, False)):
            t = asyncio.ensure_future(task)
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(
    ca: trustme.CA, *names: str, client_ca: trustme.CA | None = None
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(ctx)
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        client_ca.configure_trust(ctx)
    return ctx


def provider(base_url: str, **egress: str) -> Provider:
    return Provider(id="p", kind="openai", base_url=base_url, api_key_env="K", region="r", **egress)


def policy(base_url: str, environ: Mapping[str, str] | None = None, **egress: str) -> EgressPolicy:
    return egress_policy(Matrix(providers={"p": provider(base_url, **egress)}), environ or {})


def write_ca(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


ECHO = answer_each(lambda r: response(200, r.body))


async def test_private_ca_bundle_per_provider(ca: trustme.CA, tmp_path: Path) -> None:
    async with ScriptedServer(ECHO, ssl_context=server_context(ca, "localhost")) as server:
        url = server.url(host="localhost")
        trusting = UpstreamClient(egress=policy(url, ca_bundle=write_ca(ca, tmp_path)))
        assert await post(trusting, url, b"hi") == (200, b"hi")
        await trusting.close()
        untrusting = UpstreamClient(egress=policy(url))  # the system store alone
        with pytest.raises(UpstreamFailure) as failure:
            await post(untrusting, url)
        assert failure.value.kind == "connect_error"
        await untrusting.close()


async def test_https_through_a_connect_proxy(ca: trustme.CA, tmp_path: Path) -> None:
    async with (
        ScriptedServer(ECHO, ssl_context=server_context(ca, "localhost")) as server,
        ConnectProxy() as proxy,
    ):
        url = server.url(host="localhost")
        client = UpstreamClient(
            egress=policy(url, proxy_url=proxy.url, ca_bundle=write_ca(ca, tmp_path))
        )
        assert await post(client, url, b"secret body") == (200, b"secret body")
        assert await post(client, url, b"again") == (200, b"again")  # kept alive in the tunnel
        assert [r for r, _ in proxy.requests] == [f"CONNECT localhost:{server.port}"]
        assert proxy.relayed > 0
        assert server.connections == 1
        await client.close()


async def test_https_proxy_from_the_environment_and_no_proxy(
    ca: trustme.CA, tmp_path: Path
) -> None:
    async with (
        ScriptedServer(ECHO, ssl_context=server_context(ca, "localhost")) as server,
        ConnectProxy(require_auth=parse_proxy_url("http://u:p%40ss@x").authorization) as proxy,
    ):
        url = server.url(host="localhost")
        bundle = write_ca(ca, tmp_path)
        authed = proxy.url.replace("http://", "http://u:p%40ss@")
        client = UpstreamClient(egress=policy(url, {"HTTPS_PROXY": authed}, ca_bundle=bundle))
        assert await post(client, url, b"x") == (200, b"x")
        assert len(proxy.requests) == 1
        await client.close()
        bypass = {"HTTPS_PROXY": authed, "NO_PROXY": "example.com,localhost"}
        direct = UpstreamClient(egress=policy(url, bypass, ca_bundle=bundle))
        assert await post(direct, url, b"y") == (200, b"y")
        assert len(proxy.requests) == 1  # NO_PROXY: straight to the provider
        await direct.close()


async def test_proxy_refusal_is_a_connect_error(ca: trustme.CA, tmp_path: Path) -> None:
    async with (
        ScriptedServer(ECHO, ssl_context=server_context(ca, "localhost")) as server,
        ConnectProxy(require_auth="Basic secret") as proxy,
    ):
        url = server.url(host="localhost")
        client = UpstreamClient(egress=policy(url, proxy_url=proxy.url))
        with pytest.raises(UpstreamFailure) as failure:
            await post(client, url)
        assert failure.value.kind == "connect_error" and "407" in failure.value.detail
        assert server.requests == []
        await client.close()


async def test_client_certificate_mutual_tls(ca: trustme.CA, tmp_path: Path) -> None:
    client_ca = trustme.CA()
    identity = client_ca.issue_cert("gateway.example")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    for blob in identity.cert_chain_pems:
        with cert.open("ab") as out:
            out.write(blob.bytes())
    identity.private_key_pem.write_to_path(str(key))
    ctx = server_context(ca, "localhost", client_ca=client_ca)
    async with ScriptedServer(ECHO, ssl_context=ctx) as server:
        url = server.url(host="localhost")
        bundle = write_ca(ca, tmp_path)
        with_cert = UpstreamClient(
            egress=policy(url, ca_bundle=bundle, client_cert=str(cert), client_key=str(key))
        )
        assert await post(with_cert, url, b"m") == (200, b"m")
        await with_cert.close()
        without = UpstreamClient(egress=policy(url, ca_bundle=bundle))
        with pytest.raises(UpstreamFailure):
            await post(without, url)
        await without.close()


async def test_sni_and_certificate_name_override(ca: trustme.CA, tmp_path: Path) -> None:
    seen: list[str | None] = []
    ctx = server_context(ca, "api.provider.example")
    ctx.sni_callback = lambda sock, name, _: seen.append(name)  # type: ignore[assignment, misc]
    async with ScriptedServer(ECHO, ssl_context=ctx) as server:
        url = server.url(host="127.0.0.1")
        client = UpstreamClient(
            egress=policy(
                url, ca_bundle=write_ca(ca, tmp_path), tls_server_name="api.provider.example"
            )
        )
        assert await post(client, url, b"s") == (200, b"s")
        assert seen == ["api.provider.example"]
        await client.close()


async def test_ipv6_literal_upstream(ca: trustme.CA, tmp_path: Path) -> None:
    ctx = server_context(ca, "::1")
    server = await asyncio.start_server(_echo_once, "::1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    url = f"https://[::1]:{port}/v1/chat/completions"
    client = UpstreamClient(egress=policy(url, ca_bundle=write_ca(ca, tmp_path)))
    try:
        assert await post(client, url, b"six") == (200, b"six")
    finally:
        await client.close()
        server.close()


async def _echo_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    body = await reader.readexactly(length)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()
    writer.close()


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypass"),
    [
        ("api.example.com", 443, "example.com", True),
        ("api.example.com", 443, ".example.com", True),
        ("example.com", 443, ".example.com", True),
        ("badexample.com", 443, "example.com", False),
        ("api.example.com", 443, "example.com:8443", False),
        ("api.example.com", 8443, "example.com:8443", True),
        ("10.1.2.3", 443, "10.0.0.0/8", True),
        ("11.1.2.3", 443, "10.0.0.0/8", False),
        ("::1", 443, "::1", True),
        ("anything", 1, "*", True),
        ("anything", 1, "", False),
    ],
)
def test_no_proxy_rules(host: str, port: int, no_proxy: str, bypass: bool) -> None:
    assert bypasses_proxy(host, port, no_proxy) is bypass


def test_policy_choices() -> None:
    p = policy(
        "https://a.example/v1", {"https_proxy": "http://proxy:3128", "HTTP_PROXY": "http://p2:8"}
    )
    assert p(("https", "a.example", 443)).proxy == parse_proxy_url("http://proxy:3128")
    assert p(("http", "b.example", 80)).proxy == parse_proxy_url("http://p2:8")
    own = policy("https://a.example/v1", {"HTTPS_PROXY": "http://env:1"}, proxy_url="http://own:2")
    assert str(own(("https", "a.example", 443)).proxy) == "own:2"
    assert policy("https://a.example/v1")(("https", "a.example", 443)) == Egress()
    with pytest.raises(ValueError, match="TLS files"):
        policy("https://a.example/v1", ca_bundle="/no/such/ca.pem")
    with pytest.raises(ValueError):
        parse_proxy_url("https://proxy:443")
    assert "secret" not in str(parse_proxy_url("http://user:secret@proxy:3128"))


async def test_plain_http_upstream_through_the_proxy_tunnel() -> None:
    async with ScriptedServer(ECHO) as server, ConnectProxy() as proxy:
        url = server.url()
        client = UpstreamClient(egress=policy(url, {"HTTP_PROXY": proxy.url}))
        assert await post(client, url, b"plain") == (200, b"plain")
        assert [r for r, _ in proxy.requests] == [f"CONNECT 127.0.0.1:{server.port}"]
        await client.close()


async def test_new_egress_rules_apply_to_the_next_request() -> None:
    async with ScriptedServer(ECHO) as server, ConnectProxy() as proxy:
        url = server.url()
        client = UpstreamClient(egress=policy(url))
        assert await post(client, url, b"direct") == (200, b"direct")
        client.set_egress(policy(url, proxy_url=proxy.url))  # the idle direct connection goes
        assert await post(client, url, b"proxied") == (200, b"proxied")
        assert len(proxy.requests) == 1 and server.connections == 2
        await client.close()
