"""The pytest plugin's machinery, imported only when a fixture or a suite file is used.

:mod:`mtlscheck.pytest_plugin` is loaded in every pytest session and must stay light; it
imports this module on first use.  Everything here builds on the public engine: ``check()``
runs the probes, ``ReferenceServer`` is the server, ``init_pki`` / ``make_leaf`` the PKI.
"""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from mtlscheck._errors import MtlscheckError, UsageError
from mtlscheck._model import Finding, HandshakeFacts, ProbeResult, TargetResult, Verdict
from mtlscheck._pki import (
    PKI,
    Issued,
    KeyType,
    PrivateKey,
    Role,
    init_pki,
    make_leaf,
    write_pem,
    write_private_key,
)
from mtlscheck._report._base import display_actual
from mtlscheck._report._text import finding_lines, probe_lines, verdict_line
from mtlscheck._server import ReferenceServer, RequestRecord, ServerMode
from mtlscheck._suite import SuiteTarget, load_suite
from mtlscheck.pytest_plugin import Settings, get_settings

__all__ = [
    "MintedIdentity",
    "MtlsPKI",
    "MtlsServer",
    "ProbeRun",
    "Prober",
    "ServerFactory",
    "SuiteFile",
    "SuiteItem",
    "TargetNode",
    "assertrepr",
    "collection_summary",
    "server_options",
]

_IDENTITY_KEYS = ("cert", "key", "pki", "ca_cert", "ca_key", "identities")
_EKUS: dict[str, x509.ObjectIdentifier] = {
    name.replace("_", "").lower(): oid
    for name, oid in vars(ExtendedKeyUsageOID).items()
    if isinstance(oid, x509.ObjectIdentifier)
}


# --------------------------------------------------------------------------- PKI


@dataclass(frozen=True)
class MintedIdentity:
    """A client identity on disk and in memory: hand ``.cert``/``.key`` (or ``.pair``) to a
    client, or to ``mtls_probe(url, "valid", cert=..., key=...)``."""

    name: str
    cert: Path
    """PEM with the leaf followed by its intermediates: what a client sends."""
    key: Path
    certificate: x509.Certificate
    private_key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def pair(self) -> tuple[str, str]:
        """``(cert, key)`` as strings, the shape ``requests``/``httpx`` take for ``cert=``."""
        return str(self.cert), str(self.key)


class MtlsPKI:
    """The session's test PKI: the roles of ``mtlscheck pki init`` plus freshly minted clients."""

    def __init__(self, pki: PKI, p12_password: str | None = None) -> None:
        self.pki = pki
        self.p12_password = p12_password
        self._issued: dict[str, Issued] = {}
        self._lock = threading.Lock()
        self._count = 0

    @classmethod
    def create(cls, directory: Path | str, *, key_type: KeyType = "ec") -> MtlsPKI:
        pki, password = init_pki(directory, key_type=key_type)
        return cls(pki, password)

    # paths ---------------------------------------------------------------------------------
    @property
    def directory(self) -> Path:
        return self.pki.directory

    @property
    def ca_cert(self) -> Path:
        """The root CA: servers trust it for clients, and it issued the server certificate."""
        return self.pki.ca_cert

    @property
    def ca_key(self) -> Path:
        return self.pki.ca_key

    @property
    def server_cert(self) -> Path:
        return self.pki.server_cert

    @property
    def server_key(self) -> Path:
        return self.pki.server_key

    @property
    def client_cert(self) -> Path:
        """The ``valid`` client's certificate (what a client sends)."""
        return self.pki.role("valid").send_file

    @property
    def client_key(self) -> Path:
        key = self.pki.role("valid").key
        assert key is not None
        return key

    @property
    def crl(self) -> Path:
        return self.pki.crl

    @property
    def p12(self) -> Path | None:
        """PKCS#12 of the valid client; the password is :attr:`p12_password`."""
        return self.pki.p12

    @property
    def roles(self) -> Mapping[str, Role]:
        return self.pki.roles

    def role(self, name: str) -> Role:
        return self.pki.role(name)

    # loaded objects ------------------------------------------------------------------------
    def issued(self, name: str) -> Issued:
        """Certificate, private key and intermediates of role ``name`` (cached)."""
        with self._lock:
            if name not in self._issued:
                self._issued[name] = self.pki.issued(name)
            return self._issued[name]

    def certificate(self, name: str) -> x509.Certificate:
        return self.issued(name).cert

    def identity(self, role: str) -> MintedIdentity:
        """An existing role (``valid``, ``expired``, ``wrong-ca``, ...) as a MintedIdentity."""
        r = self.role(role)
        it = self.issued(role)
        assert r.key is not None
        return MintedIdentity(role, r.send_file, r.key, it.cert, it.key, it.chain)

    def mint_client(
        self,
        subject: str | x509.Name = "minted-client",
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        ekus: Iterable[str | x509.ObjectIdentifier] | None = None,
        issuer: str | Issued | None = "ca",
        emails: Iterable[str] | None = None,
        key_type: KeyType | None = None,
        name: str | None = None,
    ) -> MintedIdentity:
        """Issue a new client certificate and write it (key mode 0600) under ``minted/``.

        ``subject``: a CN or a full :class:`x509.Name`.  ``ekus``: names such as
        ``"clientAuth"``/``"serverAuth"`` or OIDs; ``[]`` omits the extension; None means
        clientAuth.  ``issuer``: a CA role (``"ca"``, ``"intermediate-ca"``, ``"other-ca"``),
        an :class:`Issued`, or None for a self-signed certificate.  ``emails``: SAN rfc822
        names (default ``<cn>@mtlscheck.test``; verifiers want a SAN).
        """
        ca = self.issued(issuer) if isinstance(issuer, str) else issuer
        cn = subject if isinstance(subject, str) else "client"
        oids: list[x509.ObjectIdentifier] | None = None
        if ekus is not None:
            oids = []
            for e in ekus:
                if isinstance(e, x509.ObjectIdentifier):
                    oids.append(e)
                    continue
                oid = _EKUS.get(re.sub(r"[^a-z0-9]", "", e.lower()))
                if oid is None:
                    raise UsageError(f"unknown extended key usage {e!r}; e.g. clientAuth")
                oids.append(oid)
        default_email = re.sub(r"[^a-z0-9.-]+", "-", cn.lower()).strip("-") or "client"
        issued = make_leaf(
            ca,
            subject,
            key_type=key_type or self.pki.key_type,
            ekus=oids,
            not_before=not_before,
            not_after=not_after,
            emails=list(emails) if emails is not None else [f"{default_email}@mtlscheck.test"],
        )
        with self._lock:
            self._count += 1
            n = self._count
        stem = f"{n:03d}-{re.sub(r'[^A-Za-z0-9.-]+', '-', name or cn).strip('-') or 'client'}"
        out = self.directory / "minted"
        out.mkdir(exist_ok=True)
        cert_path, key_path = out / f"{stem}.pem", out / f"{stem}.key"
        write_pem(cert_path, issued.cert, *issued.chain)
        write_private_key(key_path, issued.key)
        return MintedIdentity(
            name or cn, cert_path, key_path, issued.cert, issued.key, issued.chain
        )

    def __repr__(self) -> str:
        return f"<MtlsPKI {self.directory}>"


# --------------------------------------------------------------------------- servers


_SERVERS = pytest.StashKey[dict[str, "MtlsServer"]]()
_PROFILE = {ServerMode.NGINX: "nginx", ServerMode.APACHE: "apache", ServerMode.OPTIONAL: "generic"}


class MtlsServer:
    """A running :class:`ReferenceServer` plus what a client needs to talk to it."""

    def __init__(self, server: ReferenceServer, pki: MtlsPKI) -> None:
        self.server = server
        self.pki = pki

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def mode(self) -> ServerMode:
        return self.server.mode

    @property
    def profile(self) -> str:
        """The mtlscheck server profile that matches :attr:`mode`."""
        return _PROFILE[self.server.mode]

    @property
    def ca_cert(self) -> Path:
        """CA file to verify this server with (it also issues the trusted clients)."""
        return self.pki.ca_cert

    @property
    def client_cert(self) -> Path:
        return self.pki.client_cert

    @property
    def client_key(self) -> Path:
        return self.pki.client_key

    @property
    def cert_pair(self) -> tuple[str, str]:
        return str(self.client_cert), str(self.client_key)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every HTTP request answered (client subject, verify result, status)."""
        return list(self.server.requests)

    def ssl_context(
        self,
        identity: MintedIdentity
        | tuple[str | Path, str | Path]
        | Literal["valid"]
        | None = "valid",
    ) -> ssl.SSLContext:
        """A stdlib client context that trusts this server and presents ``identity``
        (default: the valid client; None: no client certificate)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_cert))
        if identity == "valid":
            ctx.load_cert_chain(self.client_cert, self.client_key)
        elif isinstance(identity, MintedIdentity):
            ctx.load_cert_chain(identity.cert, identity.key)
        elif identity is not None:
            ctx.load_cert_chain(identity[0], identity[1])
        return ctx

    def stop(self) -> None:
        self.server.stop()

    def __repr__(self) -> str:
        return f"<MtlsServer {self.mode} {self.url}>"


def _registry(config: pytest.Config) -> dict[str, MtlsServer]:
    return config.stash.setdefault(_SERVERS, {})


class ServerFactory:
    """``factory(mode="apache", **ReferenceServer options) -> MtlsServer`` (started)."""

    def __init__(self, config: pytest.Config, pki: MtlsPKI) -> None:
        self.config = config
        self.pki = pki
        self.started: list[MtlsServer] = []

    def __call__(self, mode: ServerMode | str = ServerMode.APACHE, **options: Any) -> MtlsServer:
        try:
            server_mode = ServerMode(str(mode).lower())
        except ValueError:
            # A mistake in the test's options: one line, no traceback into this module.
            pytest.fail(
                f"mtls_server mode must be nginx, apache or optional, not {mode!r}", pytrace=False
            )
        kw: dict[str, Any] = {
            "cert": self.pki.server_cert,
            "key": self.pki.server_key,
            "client_ca": self.pki.ca_cert,
            "crl": self.pki.crl,
        }
        kw.update(options)
        srv = MtlsServer(ReferenceServer(mode=server_mode, **kw).start(), self.pki)
        self.started.append(srv)
        _registry(self.config)[srv.url] = srv
        return srv

    def stop_all(self) -> None:
        reg = _registry(self.config)
        for srv in reversed(self.started):
            reg.pop(srv.url, None)
            srv.stop()
        self.started.clear()


def _marker_options(node: pytest.Item | pytest.Collector) -> dict[str, Any]:
    """The ``mtls`` markers' keyword arguments, the closest marker winning."""
    out: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers("mtls"))):
        if len(mark.args) > 1:
            pytest.fail(
                "@pytest.mark.mtls takes one positional argument (the target URL)", pytrace=False
            )
        if mark.args:
            out["target"] = mark.args[0]
        out.update(mark.kwargs)
    return out


def server_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """ReferenceServer options for ``mtls_server``: indirect param > marker > Apache-like."""
    opts: dict[str, Any] = {"mode": ServerMode.APACHE}
    mode = _marker_options(request.node).get("server_mode")
    if mode is not None:
        opts["mode"] = mode
    param = getattr(request, "param", None)
    if isinstance(param, str | ServerMode):
        opts["mode"] = param
    elif isinstance(param, dict):
        opts.update(param)
    elif param is not None:
        pytest.fail(f"mtls_server param must be a mode or a dict, not {param!r}", pytrace=False)
    return opts


# --------------------------------------------------------------------------- results


class ProbeRun(TargetResult):
    """What ``mtls_probe`` returns: a :class:`TargetResult` that compares with expectations.

    ``run == "rejected"`` is True when every probe result has an outcome matching the
    expectation expression (a skipped probe never matches); ``run["expired"]`` narrows to one
    probe (``run["expired[tls1.3]"]`` to one version).
    """

    __hash__ = TargetResult.__hash__

    @classmethod
    def of(cls, result: TargetResult) -> ProbeRun:
        return cls(**{f.name: getattr(result, f.name) for f in fields(result)})

    def matches(self, expectation: str) -> bool:
        from mtlscheck._expect import Expectation

        exp = Expectation.parse(expectation)
        return bool(self.results) and all(
            r.outcome is not None and exp.matches(r.outcome) for r in self.results
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.matches(other)
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __iter__(self) -> Iterator[ProbeResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, name: str) -> ProbeRun:
        picked = tuple(r for r in self.results if name in (r.probe, r.name))
        if not picked:
            raise KeyError(f"{name!r}: this run has {', '.join(r.name for r in self.results)}")
        return ProbeRun.of(
            TargetResult(
                self.target,
                picked,
                self.unsupported_versions,
                self.findings,
                self.server_profile,
                self.insecure,
            )
        )

    def _one(self) -> ProbeResult:
        if len(self.results) != 1:
            raise ValueError(
                f"{len(self.results)} probe results ({', '.join(r.name for r in self.results)});"
                " pick one with run['probe[tls1.3]'] or pass tls='1.3'"
            )
        return self.results[0]

    @property
    def outcome(self) -> Any:
        """The outcome of the only probe result (ValueError if there are several)."""
        return self._one().outcome

    @property
    def facts(self) -> HandshakeFacts | None:
        return self._one().facts

    @property
    def verdict(self) -> Verdict:
        """The worst verdict against the default/configured expectations."""
        order = (Verdict.ERROR, Verdict.FAIL, Verdict.SKIP, Verdict.PASS)
        seen = {r.verdict for r in self.results}
        return next((v for v in order if v in seen), Verdict.PASS)

    @property
    def outcomes(self) -> dict[str, str]:
        """``{"no-cert[tls1.3]": "tls-alert certificate_required (after-handshake)", ...}``."""
        return {r.name: display_actual(r) for r in self.results}

    @property
    def finding_codes(self) -> frozenset[str]:
        return frozenset(f.code for f in self.findings)

    def __repr__(self) -> str:
        rows = ", ".join(f"{n}={a}" for n, a in self.outcomes.items())
        return f"<ProbeRun {self.target} {rows}>"

    def explain(self, expectation: str, *, verbose: bool = False) -> list[str]:
        """Lines for a failed ``run == expectation``: expected vs actual, facts, findings."""
        from mtlscheck._expect import Expectation

        probes = ", ".join(dict.fromkeys(r.probe for r in self.results)) or "no probe"
        lines = [f"mtls probe {probes} of {self.target} == {expectation!r}"]
        try:
            exp: Expectation | None = Expectation.parse(expectation)
        except MtlscheckError as exc:
            exp = None
            lines.append(f"invalid expectation: {exc}")
        lines.append(f"expected: {expectation}")
        lines.append("actual:")
        width = max((len(r.name) for r in self.results), default=0)
        bad: list[ProbeResult] = []
        for r in self.results:
            ok = exp is not None and r.outcome is not None and exp.matches(r.outcome)
            if not ok:
                bad.append(r)
            lines.append(f"  {r.name:<{width}}  {display_actual(r)}{'' if ok else '  <- no match'}")
        for v, why in self.unsupported_versions:
            lines.append(f"  (TLS {v} not tested: {why})")
        lines.extend(_finding_lines(self.findings, self.server_profile, verbose=verbose))
        shown = bad if not verbose else list(self.results)
        for r in shown[: None if verbose else 1]:
            lines.extend(_detail_lines(r))
        return lines


def _detail_lines(r: ProbeResult) -> list[str]:
    """``name:`` and what the probe saw, indented (the shared plain text of the reports)."""
    return [f"{r.name}:", *(f"  {line}" for line in probe_lines(r, expected=False))]


def _finding_lines(
    findings: Iterable[Finding], profile: str, *, verbose: bool = False
) -> list[str]:
    return finding_lines(findings, profile, limit=None if verbose else 2)


def assertrepr(left: object, right: object, verbosity: int) -> list[str] | None:
    if isinstance(left, ProbeRun) and isinstance(right, str):
        return left.explain(right, verbose=verbosity > 0)
    if isinstance(right, ProbeRun) and isinstance(left, str):
        return right.explain(left, verbose=verbosity > 0)
    return None


# --------------------------------------------------------------------------- mtls_probe


class Prober:
    """The ``mtls_probe`` fixture: ``mtls_probe([url], *probes, **check_options)``.

    Option layers, lowest first: ``--mtls-*`` settings, ``@pytest.mark.mtls`` keyword
    arguments, the call's keyword arguments.  A first argument without ``://`` is a probe name
    (the URL then comes from the marker or ``--mtls-target``).  With no identity option at any
    layer, the session's ``mtls_pki`` provides the identities; against a server started by
    ``mtls_server`` its CA verifies the server and its mode picks the server profile.
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request

    def __call__(self, target: str | None = None, /, *probes: str, **options: Any) -> ProbeRun:
        from mtlscheck._api import check

        config = self.request.config
        settings: Settings = get_settings(config)
        marker = _marker_options(self.request.node)
        names = list(probes)
        url: str | None = None
        if target is not None:
            if "://" in target:
                url = target
            else:
                names.insert(0, target)
        url = url or marker.get("target") or settings.target
        if url is None:
            # A missing option, not a bug in the test: one line, no traceback.
            pytest.fail(
                "mtls_probe: no target URL: give --mtls-target URL (or MTLSCHECK_TARGET, "
                "ini mtls_target, @pytest.mark.mtls(target=...)) or pass a URL",
                pytrace=False,
            )
        srv = next((s for u, s in _registry(config).items() if url.startswith(u)), None)
        base = settings.check_kwargs()
        if srv is not None:  # our own server: its PKI, not the staging credentials
            base = {k: v for k, v in base.items() if k in ("timeout", "tls")}
            base["server"] = srv.profile
        kw: dict[str, Any] = {
            **base,
            **{k: v for k, v in marker.items() if k not in ("target", "server_mode")},
            **options,
        }
        if names:
            kw["probes"] = names
        if not any(kw.get(k) is not None for k in _IDENTITY_KEYS):
            pki: MtlsPKI = srv.pki if srv is not None else self.request.getfixturevalue("mtls_pki")
            kw["pki"] = pki.directory
        elif srv is not None and kw.get("cacert") is None and not kw.get("insecure"):
            kw["cacert"] = srv.ca_cert
        try:
            result = check(url, **kw)
        except MtlscheckError as exc:  # bad options or files: the message says it all
            pytest.fail(f"mtls_probe: {exc}", pytrace=False)
        return ProbeRun.of(result)


# --------------------------------------------------------------------------- suite files


def _suite_defaults(settings: Settings) -> dict[str, Any]:
    v = settings.values
    out: dict[str, Any] = {k: v[k] for k in ("pki", "cacert", "server", "timeout", "tls") if k in v}
    if "cert" in v:
        out["identity"] = (v["cert"], v.get("key"))
    if "ca_cert" in v or "ca_key" in v:
        out["ca"] = (v.get("ca_cert"), v.get("ca_key"))
    return out


class SuiteFile(pytest.File):
    """An ``mtls*.toml`` suite: one :class:`TargetNode` per ``[[targets]]`` entry."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        try:
            suite = load_suite(self.path, defaults=_suite_defaults(get_settings(self.config)))
            suite.validate()  # every target's files and values, before any item runs
        except MtlscheckError as exc:
            raise self.CollectError(str(exc)) from None
        for t in suite.targets:
            yield TargetNode.from_parent(self, name=t.name, target=t)


class TargetNode(pytest.Collector):
    """One target of a suite.  Its probes run once, together, on its first item (per process,
    so each xdist worker that receives items of a target probes that target once)."""

    def __init__(self, *, target: SuiteTarget, **kw: Any) -> None:
        super().__init__(**kw)
        self.target = target
        self._result: TargetResult | None = None
        self._error: MtlscheckError | None = None

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        group = self.config.pluginmanager.hasplugin("xdist")
        for probe in self.target.probes:
            for version in self.target.versions:
                item = SuiteItem.from_parent(
                    self, name=f"{probe}[tls{version}]", probe=probe, version=version
                )
                if group:  # --dist loadgroup keeps a target's items on one worker
                    item.add_marker(pytest.mark.xdist_group(self.nodeid))
                yield item

    def result(self) -> TargetResult:
        if self._error is not None:
            raise self._error
        if self._result is None:
            try:
                self._result = self.target.run()
            except MtlscheckError as exc:
                self._error = exc
                raise
        return self._result


class ProbeFailed(Exception):
    def __init__(self, result: ProbeResult, target: TargetResult) -> None:
        super().__init__(f"{result.name}: expected {result.expected}, got {display_actual(result)}")
        self.result = result
        self.target = target


@dataclass(frozen=True)
class _Crash:
    path: str
    lineno: int
    message: str

    def toterminal(self, tw: Any) -> None:
        tw.line(f"{self.path}:{self.lineno}: {self.message}")


class _FailureRepr:
    """A failure report without a traceback; ``reprcrash.message`` feeds the short summary and
    JUnit's ``message`` attribute (under xdist the report travels as ``str()``)."""

    def __init__(self, text: str, crash: _Crash) -> None:
        self.text = text
        self.reprcrash = crash

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


def failure_text(item_name: str, target: SuiteTarget, r: ProbeResult, tr: TargetResult) -> str:
    head = ("probe", "tls", "expected", "actual", "verdict")
    row = (r.probe, r.tls_version or "-", r.expected, display_actual(r), str(r.verdict).upper())
    widths = [max(len(a), len(b)) for a, b in zip(head, row, strict=True)]
    lines = [
        f"{target.name} ({target.url}): {item_name} did not meet its expectation",
        "  " + "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(),
    ]
    lines.extend("  " + line for line in _detail_lines(r)[1:])
    lines.append(verdict_line(tr))
    related = [
        f for f in tr.findings if not f.evidence or any(r.probe in e for e in f.evidence)
    ] or list(tr.findings)
    lines.extend(_finding_lines(related, tr.server_profile))
    return "\n".join(lines)


class SuiteItem(pytest.Item):
    """One probe x TLS version of a suite target."""

    def __init__(self, *, probe: str, version: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.probe = probe
        self.version = version

    @property
    def target_node(self) -> TargetNode:
        assert isinstance(self.parent, TargetNode)
        return self.parent

    def runtest(self) -> None:
        tr = self.target_node.result()
        r = next(
            (x for x in tr.results if x.probe == self.probe and x.tls_version == self.version),
            None,
        )
        if r is None:
            why = dict(tr.unsupported_versions).get(self.version, "no result")
            pytest.skip(f"TLS {self.version}: {why}")
        self.user_properties.extend(
            [
                ("target", tr.target),
                ("expected", r.expected),
                ("actual", display_actual(r)),
                ("verdict", str(r.verdict)),
            ]
        )
        if r.verdict is Verdict.SKIP:
            pytest.skip(f"{r.name}: {r.reason or 'skipped'}")
        if r.verdict in (Verdict.FAIL, Verdict.ERROR):
            raise ProbeFailed(r, tr)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        exc = excinfo.value
        line = self.target_node.target.line or 1
        if isinstance(exc, ProbeFailed):
            text = failure_text(self.name, self.target_node.target, exc.result, exc.target)
            return _FailureRepr(text, _Crash(str(self.path), line, str(exc)))
        if isinstance(exc, MtlscheckError):
            msg = f"mtlscheck: {exc}"
            return _FailureRepr(msg, _Crash(str(self.path), line, msg))
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.target_node.target.line
        # Not a suffix of the node id, so ``-v`` shows the node id verbatim (pytest would turn
        # the dots of "api.internal" into "::"); also the headline of a failure.
        where = f"{self.target_node.name}::{self.name} ({self.target_node.target.url})"
        return self.path, None if line is None else line - 1, where


def collection_summary(items: list[pytest.Item]) -> list[str] | None:
    targets: dict[str, tuple[SuiteTarget, int]] = {}
    for item in items:
        if isinstance(item, SuiteItem):
            node = item.target_node
            t, n = targets.get(node.nodeid, (node.target, 0))
            targets[node.nodeid] = (t, n + 1)
    if not targets:
        return None
    return [
        f"mtlscheck: suite target {nodeid} -> {t.url} ({n} items)"
        for nodeid, (t, n) in targets.items()
    ]
