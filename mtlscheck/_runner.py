"""Run one probe: one TCP connection, one handshake, one HTTP request.

:class:`Target` (a validated URL and its curl-like options) and :class:`Plan` (what to run
against it) are the inputs; :func:`run_probe` returns the outcome :func:`mtlscheck._outcome.
classify` made of the wire record.  Running many probes over many targets, in one bounded
pool, is :mod:`mtlscheck._fleet`'s job.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from OpenSSL import SSL

from mtlscheck._errors import UsageError
from mtlscheck._expect import Expectation, ServerProfile
from mtlscheck._identity import ClientIdentity
from mtlscheck._io import Deadline
from mtlscheck._model import (
    HandshakeFacts,
    Outcome,
    OutcomeKind,
)
from mtlscheck._outcome import classify, is_wire_error
from mtlscheck._probes import CATALOGUE, ProbeRequest, RequestOptions, Skip, probe_request
from mtlscheck._tls import TLSClient, TLSSettings

if TYPE_CHECKING:
    import httpx

__all__ = ["Plan", "Target", "probe_headers", "probe_settings", "run_probe"]

_BODY_LIMIT = 16384
_SERVER_LIMIT = 120


@dataclass(frozen=True)
class Target:
    """Where and how to connect: the curl-like connection options of one URL."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    cafile: Path | None = None
    insecure: bool = False
    servername: str | None = None
    address: str | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        """Validate every field now: a bad value is a usage error, never a probe result."""
        from mtlscheck import _validate as v

        self.parts  # noqa: B018 - the URL, its host and port
        v.check_method(self.method)
        for name, value in self.headers:
            v.check_header(name, value)
        if self.servername is not None:
            v.check_hostname(self.servername, "--servername")
        if self.address is not None:
            v.check_address(self.address, "--resolve address")
        v.check_timeout(self.timeout)

    @functools.cached_property
    def http_url(self) -> httpx.URL:
        """The URL as httpx parses it, once per target instead of once per probe."""
        import httpx

        return httpx.URL(self.url)

    @functools.cached_property
    def parts(self) -> tuple[str, int]:
        """(host, port) of the URL, parsed once (every probe of a fleet asks)."""
        from mtlscheck._validate import parse_https_url

        return parse_https_url(self.url)

    def settings(self, version: str | None) -> TLSSettings:
        host, port = self.parts
        return TLSSettings(
            host=host,
            port=port,
            address=self.address,
            servername=self.servername,
            cafile=self.cafile,
            insecure=self.insecure,
            version=version,
            timeout=self.timeout,
        )


@dataclass(frozen=True)
class Plan:
    """What to run against a target: probes, their identities and expectations, TLS versions."""

    probes: tuple[str, ...]
    identities: Mapping[str, ClientIdentity | Skip | None]
    expectations: Mapping[str, Expectation]
    versions: tuple[str, ...] = ("1.2", "1.3")
    profile: ServerProfile = ServerProfile.GENERIC
    request_options: RequestOptions = field(default_factory=RequestOptions)
    """The run's identity headers and other servername (``--forged-header``,
    ``--other-servername``)."""

    def request(self, probe: str, target: Target) -> ProbeRequest | None:
        """The request changes of ``probe`` against ``target`` (None: the plain request).
        The job loop passes them to :func:`run_probe` and builds the reproduce commands from
        :func:`probe_settings` / :func:`probe_headers` with them."""
        return probe_request(probe, target.parts[0], self.request_options)


def probe_settings(
    target: Target, version: str | None, request: ProbeRequest | None = None
) -> TLSSettings:
    """The TLS settings of one probe: the target's, with the probe's SNI (``sni-mismatch``).
    Also what the reproduce commands must be built from."""
    settings = target.settings(version)
    if request is not None and request.servername:
        settings = dataclasses.replace(settings, sni=request.servername)
    return settings


def probe_headers(
    target: Target, request: ProbeRequest | None = None
) -> tuple[tuple[str, str], ...]:
    """The target's headers plus the probe's (which replace same-named ones): what the probe
    sends, and what its reproduce command must send."""
    extra = () if request is None else request.headers
    names = {k.lower() for k, _ in extra}
    return (*((k, v) for k, v in target.headers if k.lower() not in names), *extra)


def run_probe(
    target: Target,
    version: str | None,
    identity: ClientIdentity | None,
    *,
    context: SSL.Context | None = None,
    addresses: tuple[tuple[int, tuple[object, ...]], ...] | None = None,
    deadline: Deadline | None = None,
    request: ProbeRequest | None = None,
) -> tuple[Outcome, HandshakeFacts, str]:
    """Connect, handshake, send the request, read the answer: return what happened.

    ``request`` carries the probe's request changes (extra headers, another SNI, plain HTTP).
    Returns the outcome, the handshake facts and, when mtlscheck itself failed, the traceback
    (the outcome is then ``internal-error``: a bug of ours is never a fact about the server).
    """
    if request is not None and request.plain_http:
        return _plain_probe(target, addresses, deadline or Deadline.after(target.timeout))
    settings = probe_settings(target, version, request)
    if addresses is not None:
        settings = dataclasses.replace(settings, addresses=addresses)
    client = TLSClient(settings, identity, context=context, deadline=deadline)
    status: int | None = None
    body = b""
    server = ""
    try:
        client.connect()
        # Refuse an untrusted server before sending it anything, like curl does.
        refuse = not target.insecure and (
            client.verify_error is not None or client.hostname_matches() is False
        )
        if not refuse:
            status, body, server = _http(client, target, probe_headers(target, request))
    except Exception as exc:
        if not is_wire_error(exc):
            client.close()
            return (
                Outcome(OutcomeKind.INTERNAL, detail=f"{type(exc).__name__}: {exc}"),
                client.facts(),
                traceback.format_exc(),
            )
        client.note_http_failure(exc)
    finally:
        client.close()
    record = client.record(status, body, server)
    return classify(record), record.facts, ""


def _plain_probe(
    target: Target,
    addresses: tuple[tuple[int, tuple[object, ...]], ...] | None,
    deadline: Deadline,
) -> tuple[Outcome, HandshakeFacts, str]:
    """The ``plaintext`` probe: plain HTTP/1.1 over TCP to the TLS port, no TLS at all.

    Credentials are never sent in clear: no URL userinfo, no secret headers (Authorization,
    cookies, API keys) - the probe asks whether plain HTTP is served, not who may see it.
    """
    from urllib.parse import urlsplit

    from mtlscheck._outcome import classify_plain
    from mtlscheck._plain import plain_request, request_bytes
    from mtlscheck._secrets import is_secret_header, public_query

    host, port = target.parts
    try:
        u = urlsplit(target.url)
        authority = (f"[{host}]" if ":" in host else host) + ("" if port == 443 else f":{port}")
        headers = tuple((k, v) for k, v in target.headers if not is_secret_header(k))
        query = public_query(u.query)  # secret parameters never in clear, like secret headers
        wire = request_bytes(
            target.method, authority, (u.path or "/") + (f"?{query}" if query else ""), headers
        )
        rec = plain_request(host, port, wire, deadline, address=target.address, addresses=addresses)
    except Exception as exc:
        return (
            Outcome(OutcomeKind.INTERNAL, detail=f"{type(exc).__name__}: {exc}"),
            HandshakeFacts(),
            traceback.format_exc(),
        )
    return classify_plain(rec), HandshakeFacts(), ""


def _http(
    client: TLSClient, target: Target, headers: tuple[tuple[str, str], ...]
) -> tuple[int, bytes, str]:
    """One request over the probe's connection: the status, the start of the body and the
    ``Server`` header (evidence for ``--server auto``)."""
    import base64

    import httpx

    from mtlscheck._transport import OneConnectionTransport

    # The transport directly, not an httpx.Client: one request on one connection needs no
    # cookie jar, redirects, auth flow or connection pool, and skipping them is a third of
    # the probe's own CPU time in a fleet.  What a Client would add is added here: URL
    # userinfo (allowed only with --user-from-url) as HTTP Basic auth, and curl's Accept.
    sent = dict(headers)
    sent.setdefault("User-Agent", "mtlscheck")
    sent.setdefault("Accept", "*/*")
    url = target.http_url
    if url.userinfo:
        # As httpx's Client does (and the printed curl command): the URL's credentials win
        # over an Authorization header.
        sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
        pair = f"{url.username}:{url.password}".encode()
        sent["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    transport = OneConnectionTransport(client)
    try:
        resp = transport.handle_request(httpx.Request(target.method, url, headers=sent))
        try:
            body = b""
            try:
                for chunk in resp.iter_raw():
                    body += chunk
                    if len(body) >= _BODY_LIMIT:
                        break
            except Exception as exc:
                # The status line and headers came: that is the answer.  A body cut short
                # (reset, timeout, endless stream) does not change it.
                if not is_wire_error(exc):
                    raise
            # Interned: a fleet's servers mostly send the same few names.
            server = sys.intern(resp.headers.get("server", "")[:_SERVER_LIMIT])
            return resp.status_code, body[:_BODY_LIMIT], server
        finally:
            resp.close()
    finally:
        transport.close()


def default_expectations(
    probes: Sequence[str], profile: ServerProfile, overrides: Mapping[str, str]
) -> dict[str, Expectation]:
    for name in overrides:
        if name not in CATALOGUE:
            raise UsageError(
                f"--expect names unknown probe {name!r}; known: {', '.join(CATALOGUE)}"
            )
    return {
        p: Expectation.parse(overrides[p]) if p in overrides else _default(p, profile)
        for p in probes
    }


def _default(probe: str, profile: ServerProfile) -> Expectation:
    """The spec's own expectation (a probe not about certificates), else accepted/rejected
    narrowed by the server profile."""
    from mtlscheck._expect import default_expectation

    spec = CATALOGUE[probe]
    if spec.expectation is not None:
        return Expectation.parse(spec.expectation)
    default = default_expectation(spec.accepts, profile)
    if spec.expect_also:
        # Still a default (``--server auto`` may judge it again under the detected profile).
        return dataclasses.replace(
            Expectation.parse(f"{default}|{spec.expect_also}"), from_default=True
        )
    return default
