"""HTTPS to a local server with a certificate made for the test."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sekisho.chat.upstream import UpstreamClient, UpstreamFailure

from .wire import QUICK, Peer, ScriptedServer, answer_each, post, response


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost` only (not for 127.0.0.1): (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certificate)
    return ctx


def _trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


async def test_https_request_and_keep_alive(certificate: tuple[Path, Path]) -> None:
    echo = answer_each(lambda r: response(200, r.body))
    async with ScriptedServer(echo, ssl_context=_server_context(certificate)) as server:
        client = UpstreamClient(ssl_context=_trusting(certificate))
        url = server.url(host="localhost")
        assert await post(client, url, b"secret") == (200, b"secret")
        assert await post(client, url, b"again") == (200, b"again")
        assert server.connections == 1
        assert server.requests[0][1].header("Host") == [f"localhost:{server.port}"]
        await client.close()


async def test_https_streaming_and_close_delimited_body(certificate: tuple[Path, Path]) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"one ", b"two", pause=0.02
        )
        peer.close()

    async with ScriptedServer(handler, ssl_context=_server_context(certificate)) as server:
        client = UpstreamClient(ssl_context=_trusting(certificate))
        resp = await client.send(server.url(host="localhost"), {}, b"", QUICK)
        assert b"".join([c async for c in resp.chunks()]) == b"one two"
        resp.close()
        await client.close()


async def test_untrusted_certificate_is_connect_error(certificate: tuple[Path, Path]) -> None:
    echo = answer_each(lambda r: response(200, r.body))
    async with ScriptedServer(echo, ssl_context=_server_context(certificate)) as server:
        client = UpstreamClient()  # the system's trust store does not know our certificate
        with pytest.raises(UpstreamFailure) as failure:
            await post(client, server.url(host="localhost"))
        assert failure.value.kind == "connect_error"
        assert server.requests == []
        await client.close()


async def test_wrong_hostname_is_connect_error(certificate: tuple[Path, Path]) -> None:
    echo = answer_each(lambda r: response(200, r.body))
    async with ScriptedServer(echo, ssl_context=_server_context(certificate)) as server:
        client = UpstreamClient(ssl_context=_trusting(certificate))
        with pytest.raises(UpstreamFailure) as failure:
            await post(client, server.url(host="127.0.0.1"))  # the cert names localhost only
        assert failure.value.kind == "connect_error"
        assert "127.0.0.1" in failure.value.detail
        assert server.requests == []
        await client.close()


async def test_plain_http_to_a_tls_server_is_reset(certificate: tuple[Path, Path]) -> None:
    echo = answer_each(lambda r: response(200, r.body))
    async with ScriptedServer(echo, ssl_context=_server_context(certificate)) as server:
        client = UpstreamClient()
        with pytest.raises(UpstreamFailure) as failure:
            await post(client, server.url(host="localhost").replace("https:", "http:"))
        assert failure.value.kind == "reset"
        await client.close()
