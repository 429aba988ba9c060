"""``mtlscheck explain``: recognise the mTLS error lines people paste and say what they mean.

One data table, :data:`PATTERNS`: each entry recognises one kind of line from one program
(server logs: nginx, Apache, HAProxy, Caddy; clients: curl, OpenSSL, Go, Java, Node, Python)
and says who sent what, the likely causes (most likely first), the finding codes a probe would
name, the fix, and the probes that confirm it.  Lines that carry an OpenSSL verify error number
or a TLS alert name take that part from :mod:`mtlscheck._tls_errors`, shared with ``verify``.
Every pattern is tested against lines captured from the real programs (tests/test_explain.py).

When nothing is recognised the answer is not silence: nginx logs client-certificate errors
only at ``error_log ... info``, Apache the handshake details only at ``LogLevel info``, and
Caddy only with its ``debug`` option, so an "empty" log is often a log level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from mtlscheck._tls_errors import (
    MINTED_PROBES,
    VERIFY_ERRORS,
    Meaning,
    alert_meaning,
    normalise_alert,
)

__all__ = ["PATTERNS", "Explanation", "Pattern", "explain"]

_REJECTED = "valid-cert-rejected"
_CA_NAMES = "ca-names-exclude-client-issuer"
_PER_LOCATION = "per-location-client-auth"
_SERVER = "server-cert-untrusted"


@dataclass(frozen=True)
class Pattern:
    """One kind of line.  ``lookup`` = "verify" takes the meaning from the ``num`` group (an
    OpenSSL verify error), "alert" from the ``alert`` group (a TLS alert); otherwise the
    pattern carries its own meaning."""

    id: str
    source: str
    """The program that wrote the line: nginx, apache, haproxy, caddy, curl, openssl, go,
    java, node, python."""
    regex: str
    says: str
    causes: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    fix: str | None = None
    probes: tuple[str, ...] = ()
    lookup: str | None = None
    extra_fixes: tuple[tuple[str, str], ...] = ()
    unless: str = ""
    """A line that also matches this is not this pattern's (the same alert text in a server
    log means the other direction)."""

    @property
    def compiled(self) -> re.Pattern[str]:
        return _compiled(self.regex)


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(regex: str) -> re.Pattern[str]:
    pat = _CACHE.get(regex)
    if pat is None:
        pat = _CACHE[regex] = re.compile(regex)
    return pat


_NO_CERT = (
    "the client was not given a certificate (curl --cert/--key, Java keystore, Go "
    "tls.Config.Certificates)",
    "the client has one but did not offer it: its issuer is not among the CA names the server "
    "advertises (browsers, Java and Go choose by CA name)",
    "a proxy or load balancer in front terminates TLS and does not pass the certificate on",
)
# Server log lines that quote an alert the CLIENT sent (the reverse direction).
_SERVER_SIDE = r"SSL Library Error:|SSL_do_handshake\(\)|TLS handshake error from"
_LATE = (
    "in TLS 1.3 the client finishes the handshake before the server checks its certificate, "
    "so the server's refusal arrives on the first read, after the request was sent"
)

PATTERNS: tuple[Pattern, ...] = (
    # --- nginx -------------------------------------------------------------------------------
    Pattern(
        "nginx-no-cert",
        "nginx",
        r"client sent no required SSL certificate",
        "nginx asked for a client certificate (ssl_verify_client on) and the client sent "
        "none; nginx finished the handshake and answered HTTP 400 'No required SSL "
        "certificate was sent' (internal code 496)",
        _NO_CERT,
        (_REJECTED, _CA_NAMES),
        _CA_NAMES,
        ("no-cert", "valid"),
    ),
    Pattern(
        "nginx-verify-error",
        "nginx",
        r"client SSL certificate verify error: \((?P<num>\d+):(?P<text>[^)]*)\)",
        "nginx could not verify the client certificate and answered HTTP 400 'The SSL "
        "certificate error' (internal code 495): ({num}:{text})",
        lookup="verify",
    ),
    Pattern(
        "nginx-client-alert",
        "nginx",
        r"SSL_do_handshake\(\) failed \(SSL: error:\w+:SSL routines:[^:]*:"
        r"(?P<alert>(?:tlsv1|tlsv13|sslv3) alert [a-z ]+)",
        "the CLIENT sent alert {alert} to nginx and hung up: it refused nginx's SERVER "
        "certificate (this line is not about the client certificate)",
        (
            "the client does not trust the CA that issued the server certificate (give it "
            "the CA: curl --cacert)",
            "ssl_certificate lacks the intermediate(s) after the server certificate",
            "the client connected by a name the server certificate does not cover",
        ),
        (_SERVER,),
        _SERVER,
        ("valid",),
    ),
    Pattern(
        "nginx-400-no-cert",
        "nginx",
        r"No required SSL certificate was sent",
        "nginx's 400 page: nginx asked for a client certificate and got none (the TLS "
        "handshake itself succeeded: nginx refuses at HTTP level)",
        _NO_CERT,
        (_REJECTED, _CA_NAMES),
        _CA_NAMES,
        ("no-cert", "valid"),
    ),
    Pattern(
        "nginx-400-cert-error",
        "nginx",
        r"The SSL certificate error",
        "nginx's 400 page: the client sent a certificate that nginx could not verify; nginx's "
        "error.log says why (at error_log ... info): 'client SSL certificate verify error: "
        "(N:reason)'",
        (
            "the server does not trust the certificate's issuer or the chain is incomplete",
            "the certificate expired, is revoked, or lacks extendedKeyUsage clientAuth",
            "ssl_verify_depth is smaller than the chain, or a CRL is missing/expired",
        ),
        (_REJECTED,),
        _REJECTED,
        ("valid", "chain-missing"),
    ),
    # --- Apache ------------------------------------------------------------------------------
    Pattern(
        "apache-verify-error",
        "apache",
        r"AH0(?:2039|2276): Certificate Verification: Error \((?P<num>\d+)\): "
        r"(?P<text>[^\[\n]*[^\[\s])",
        "Apache (mod_ssl) could not verify the client certificate and failed the handshake "
        "with an alert: Error ({num}): {text}",
        lookup="verify",
    ),
    Pattern(
        "apache-depth",
        "apache",
        r"AH02040: Certificate Verification: Certificate Chain too long \(chain has "
        r"(?P<n>\d+) certificates, but maximum allowed are only (?P<max>\d+)\)",
        "Apache refused the client chain as longer than SSLVerifyDepth and sent alert "
        "internal_error: it needs SSLVerifyDepth {n} (Apache counts the root)",
        ("SSLVerifyDepth {max} is smaller than the client chain",),
        ("verify-depth-too-small", _REJECTED),
        "verify-depth-too-small",
        ("valid",),
    ),
    Pattern(
        "apache-no-cert",
        "apache",
        r"peer did not return a certificate",
        "Apache requires a client certificate (SSLVerifyClient require) and the client sent "
        "none: handshake_failure (TLS 1.2) or certificate_required (TLS 1.3)",
        _NO_CERT,
        (_REJECTED, _CA_NAMES),
        _CA_NAMES,
        ("no-cert", "valid"),
    ),
    Pattern(
        "apache-renegotiation-failed",
        "apache",
        r"AH02261: Re-negotiation handshake failed",
        "Apache asked for the client certificate only after the request (SSLVerifyClient "
        "inside <Location>/<Directory>) by renegotiation, which failed; it answered 403",
        (
            "per-location client auth: the client sent no or a bad certificate in the "
            "renegotiation (the next 'SSL Library Error' line says which)",
            "the client cannot renegotiate (HTTP/2, many libraries)",
        ),
        (_PER_LOCATION,),
        _PER_LOCATION,
        ("no-cert", "valid"),
    ),
    Pattern(
        "apache-pha-missing-cert",
        "apache",
        r"AH02263: Re-negotiation handshake failed: Client certificate missing",
        "Apache asked for the client certificate after the request (per-location "
        "SSLVerifyClient, TLS 1.3 post-handshake auth) and got none; it answered 403",
        (
            "per-location client auth and a client without a certificate",
            *_NO_CERT[:1],
        ),
        (_PER_LOCATION, _REJECTED),
        _PER_LOCATION,
        ("no-cert", "valid"),
    ),
    Pattern(
        "apache-no-pha",
        "apache",
        r"AH10158: cannot perform post-handshake authentication",
        "Apache needs the client certificate for this <Location> but the TLS 1.3 client "
        "does not offer post-handshake auth; Apache answered 403",
        (
            "SSLVerifyClient inside <Location>/<Directory>: Go clients, browsers and HTTP/2 "
            "cannot do post-handshake auth",
        ),
        (_PER_LOCATION,),
        _PER_LOCATION,
        ("valid",),
    ),
    Pattern(
        "apache-client-alert",
        "apache",
        r"SSL Library Error: error:\w+:SSL routines::(?P<alert>(?:tlsv1|tlsv13|sslv3) alert "
        r"[a-z ]+?) \(SSL alert number \d+\)",
        "the CLIENT sent alert {alert} to Apache: it refused Apache's SERVER certificate "
        "(this line is not about the client certificate)",
        (
            "the client does not trust the CA that issued the server certificate (give it "
            "the CA: curl --cacert)",
            "SSLCertificateFile lacks the intermediate(s) after the server certificate",
            "the client connected by a name the server certificate does not cover",
        ),
        (_SERVER,),
        _SERVER,
        ("valid",),
    ),
    Pattern(
        "apache-handshake-error",
        "apache",
        r"AH02008: SSL library error \d+ in handshake",
        "a TLS handshake with Apache failed (this line alone says nothing about why); the "
        "reason is on the lines around it: "
        "'peer did not return a certificate' (no client certificate), AH02276/AH02039 "
        "(verification error) or 'alert ... (SSL alert number N)' (the client refused the "
        "server)",
        (
            "no client certificate, or one Apache could not verify (see the lines before "
            "and after, logged at LogLevel info)",
            "the client refused Apache's server certificate",
        ),
        (),
        None,
        ("no-cert", "valid"),
    ),
    # --- HAProxy -----------------------------------------------------------------------------
    Pattern(
        "haproxy-not-trusted",
        "haproxy",
        r"SSL client certificate not trusted",
        "HAProxy (verify required) could not verify the client certificate and failed the "
        "handshake; the log does not say why (add ssl_c_verify / ssl_c_err to the log-format: "
        "they are OpenSSL's verify error numbers)",
        (
            "the CA file (ca-file) does not hold the issuer, or the client did not send its "
            "intermediate",
            "the certificate expired or is revoked (crl-file), or the CRL expired",
        ),
        (_REJECTED,),
        _REJECTED,
        ("valid", "expired", "wrong-ca"),
    ),
    Pattern(
        "haproxy-handshake-failure",
        "haproxy",
        r"SSL handshake failure",
        "the TLS handshake with HAProxy failed before any request; with verify required the "
        "usual cause is a client without a certificate",
        (*_NO_CERT[:2], "no common TLS version or cipher suite"),
        (_REJECTED, _CA_NAMES),
        _CA_NAMES,
        ("no-cert", "valid"),
    ),
    # --- Caddy / Go servers --------------------------------------------------------------------
    Pattern(
        "go-server-no-cert",
        "caddy",
        r"tls: client didn't provide a certificate",
        "a Go server (Caddy) requires a client certificate and got none; it sent alert "
        "bad_certificate (Go sends that for every client-certificate problem)",
        _NO_CERT,
        (_REJECTED, _CA_NAMES),
        _CA_NAMES,
        ("no-cert", "valid"),
    ),
    Pattern(
        "go-server-unknown-authority",
        "caddy",
        r"failed to verify client certificate: x509: certificate signed by unknown authority",
        "a Go server (Caddy) could not chain the client certificate to a CA in "
        "trusted_ca_cert_file; the client saw alert bad_certificate",
        (
            "the client did not send its intermediate CA",
            "trusted_ca_cert_file does not hold the issuing CA",
            "a foreign or self-signed certificate (a test: then the server did right)",
        ),
        (_REJECTED, "chain-incomplete", _CA_NAMES),
        "chain-incomplete",
        ("valid", "chain-missing", "wrong-ca"),
    ),
    Pattern(
        "go-server-expired",
        "caddy",
        r"failed to verify client certificate: x509: certificate has expired or is not yet "
        r"valid",
        "a Go server (Caddy) refused the client certificate: outside its validity dates",
        ("the client certificate expired or is not valid yet", "a clock is wrong"),
        (_REJECTED,),
        "valid-cert-rejected/client",
        ("valid", "expired"),
    ),
    Pattern(
        "go-server-key-usage",
        "caddy",
        r"failed to verify client certificate: x509: certificate specifies an incompatible "
        r"key usage",
        "a Go server (Caddy) refused the client certificate: its extendedKeyUsage lacks clientAuth",
        ("the certificate is not issued for client authentication (a server certificate?)",),
        (_REJECTED,),
        "valid-cert-rejected/client",
        ("valid", "no-client-eku"),
    ),
    Pattern(
        "go-server-client-alert",
        "caddy",
        r"TLS handshake error from \S+: remote error: tls: (?P<alert>[a-z]+(?: [a-z]+)*)",
        "the CLIENT sent alert '{alert}' to the Go server (Caddy): it refused the SERVER's "
        "certificate (this line is not about the client certificate)",
        (
            "the client does not trust the CA that issued the server certificate",
            "the server certificate file lacks its intermediate(s)",
            "the client connected by a name the server certificate does not cover",
        ),
        (_SERVER,),
        _SERVER,
        ("valid",),
    ),
    Pattern(
        "go-client-server-untrusted",
        "go",
        r"(?:tls: failed to verify certificate: )?x509: (?P<why>certificate signed by unknown "
        r"authority|certificate is valid for [^\n\"]+|certificate has expired[^\n\"]*)",
        "a Go CLIENT (here: Caddy's reverse_proxy) refused the SERVER's certificate ({why}): "
        "this is about the server certificate, not the client certificate",
        (
            "the client does not trust the server's CA (Go: tls.Config.RootCAs; Caddy: "
            "tls_trusted_ca_certs)",
            "the server does not send its intermediate(s)",
            "the name used does not match the server certificate",
        ),
        (_SERVER,),
        _SERVER,
        ("valid",),
        unless=r"client certificate",
    ),
    Pattern(
        "go-client-alert",
        "go",
        r"remote error: tls: (?P<alert>[a-z]+(?: [a-z]+)*)",
        "a Go client RECEIVED this alert",
        lookup="alert",
        unless=_SERVER_SIDE,
    ),
    # --- curl / OpenSSL / Python / Node / Java clients ------------------------------------------
    Pattern(
        "python-alert",
        "python",
        r"\b(?:ERR_SSL_)?(?P<alert>(?:TLSV13|TLSV1|SSLV3)_ALERT_[A-Z_]+)\b",
        "a Python (ssl) or Node client RECEIVED this alert",
        lookup="alert",
    ),
    Pattern(
        "openssl-alert",
        "openssl",
        r"(?<![\w(])(?P<alert>(?:tlsv13|tlsv1|sslv3) alert [a-z]+(?: [a-z]+)*)",
        "an OpenSSL-based client (curl, openssl s_client, Node, Python) RECEIVED this alert",
        lookup="alert",
        unless=_SERVER_SIDE,
    ),
    Pattern(
        "java-alert",
        "java",
        r"Received fatal alert: (?P<alert>[a-z_]+)",
        "a Java client RECEIVED this alert",
        lookup="alert",
    ),
    Pattern(
        "curl-60-alert",
        "curl",
        r"curl: \(60\) SSL certificate verification failed",
        "despite the wording, curl did NOT refuse the server: the SERVER sent alert "
        "certificate_expired about YOUR client certificate (curl maps that alert to exit 60; "
        "an untrusted server reads 'SSL certificate problem: ...' instead)",
        (
            "the client certificate expired (check: mtlscheck inspect client.pem)",
            "the server's CRL expired (Apache/HAProxy send certificate_expired then)",
        ),
        (_REJECTED,),
        "valid-cert-rejected/client",
        ("valid", "expired"),
    ),
    Pattern(
        "curl-60-server",
        "curl",
        r"curl: \(60\) SSL certificate problem: (?P<why>[^\n]+)",
        "curl refused the SERVER's certificate ({why}): this is about the server certificate, "
        "not the client certificate",
        (
            "curl does not trust the server's CA: pass it with --cacert",
            "the server does not send its intermediate(s)",
        ),
        (_SERVER,),
        _SERVER,
        ("valid",),
    ),
    Pattern(
        "curl-35",
        "curl",
        r"curl: \(35\)",
        "curl exit 35: the TLS handshake failed; the alert text on the same line says who "
        "refused what",
        ("the server refused the client certificate during the handshake (TLS 1.2)",),
        (_REJECTED,),
        _REJECTED,
        ("no-cert", "valid"),
    ),
    Pattern(
        "curl-56",
        "curl",
        r"curl: \((?P<code>5[56])\)",
        "curl exit {code}: the connection failed after the handshake. " + _LATE + "; a reset "
        "can also swallow the alert (exit 55 'send failure')",
        ("the server refused the client certificate (TLS 1.3)",),
        (_REJECTED, "client-cert-rejected-after-handshake"),
        _REJECTED,
        ("no-cert", "valid"),
    ),
    Pattern(
        "curl-58",
        "curl",
        r"curl: \(58\)",
        "curl exit 58: curl could not use the LOCAL client certificate or key; nothing was "
        "sent to the server",
        (
            "wrong file, format or password for --cert/--key (--cert-type P12 for .p12)",
            "the key does not belong to the certificate (check: mtlscheck inspect cert.pem "
            "key.pem)",
        ),
        (),
        None,
        ("valid",),
    ),
    Pattern(
        "node-server-untrusted",
        "node",
        r"UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify the first certificate",
        "a Node (or OpenSSL) CLIENT could not verify the SERVER's certificate: the server "
        "does not send its intermediate or the client lacks the CA (this is not about the "
        "client certificate)",
        (
            "the server's certificate file lacks its intermediate(s)",
            "the client does not have the server's CA (Node: ca: option or NODE_EXTRA_CA_CERTS)",
        ),
        (_SERVER,),
        _SERVER,
        ("valid",),
        unless=r"client SSL certificate verify error|Certificate Verification",
    ),
    Pattern(
        "client-hangup",
        "client",
        r"java\.net\.SocketException: (?:Broken pipe|Connection reset)|socket hang up|"
        r"ECONNRESET|curl: \(5[56]\) (?:Send|Recv) failure: Connection reset by peer",
        "the server closed the connection without an HTTP answer. " + _LATE + "; OpenSSL and "
        "Go servers send their alert and close at once, so a client that is still writing "
        "(Java 'Broken pipe', Node 'socket hang up' / ECONNRESET, curl 55) sees only the "
        "closed socket",
        (
            "the server refused the client certificate (or got none): its log says why",
            "the server or a proxy closed the connection for another reason",
        ),
        (_REJECTED, "client-cert-rejected-after-handshake"),
        _REJECTED,
        ("no-cert", "valid"),
    ),
)
"""The recognisers, most specific first within a program."""

# --------------------------------------------------------------------------- silent logs

_NGINX_LINE = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\]", re.M)
_APACHE_LINE = re.compile(r"^\[[^\]]+\] \[(?:(\w+):)?(\w+)\]", re.M)
_CADDY_LINE = re.compile(r'^\{"level":"(\w+)"', re.M)
_NGINX_ERROR_LOG = re.compile(r"^\s*error_log\s+\S+(?:\s+(\w+))?\s*;", re.M)
_APACHE_LOGLEVEL = re.compile(r"^\s*LogLevel\s+(.+)$", re.M | re.I)

NGINX_LEVEL_NOTE = (
    "nginx logs client-certificate errors ('client sent no required SSL certificate', "
    "'client SSL certificate verify error') only at level info: set "
    "error_log /var/log/nginx/error.log info;"
)
APACHE_LEVEL_NOTE = (
    "Apache logs the handshake details (AH02008 with the 'SSL Library Error' reason, and "
    "AH02276 with the certificate) only at LogLevel info: add LogLevel ssl:info (at the "
    "default warn only AH02039 remains)"
)
CADDY_LEVEL_NOTE = (
    "Caddy logs TLS handshake errors ('http: TLS handshake error ...') only with the debug "
    "global option: { debug } at the top of the Caddyfile"
)
HAPROXY_NOTE = (
    "HAProxy logs handshake failures only with a log target and option httplog (or "
    "log-format with ssl_c_verify / ssl_c_err for the verify error number)"
)


def _level_notes(text: str, matched_sources: set[str]) -> list[str]:
    notes: list[str] = []
    levels = {m.group(1) for m in _NGINX_LINE.finditer(text)}
    if "nginx" not in matched_sources and levels and not levels & {"info", "debug"}:
        notes.append("this nginx log has no info lines: " + NGINX_LEVEL_NOTE)
    for m in _NGINX_ERROR_LOG.finditer(text):
        level = m.group(1) or "error"
        if level not in ("info", "debug"):
            notes.append(f"'{m.group(0).strip()}' logs at {level} and above: " + NGINX_LEVEL_NOTE)
    apache = [(m.group(1) or "", m.group(2)) for m in _APACHE_LINE.finditer(text)]
    if (
        "apache" not in matched_sources
        and apache
        and not any(level in ("info", "debug") or level.startswith("trace") for _, level in apache)
    ):
        notes.append("this Apache log has no info lines: " + APACHE_LEVEL_NOTE)
    for m in _APACHE_LOGLEVEL.finditer(text):
        words = m.group(1).split("#", 1)[0].lower().split()
        ssl_level = next((w.split(":", 1)[1] for w in words if w.startswith("ssl:")), None)
        base = next((w for w in words if ":" not in w), "warn")
        level = ssl_level or base
        if level not in ("info", "debug") and not level.startswith("trace"):
            notes.append(f"'LogLevel {m.group(1).strip()}' hides them: " + APACHE_LEVEL_NOTE)
    caddy = {m.group(1) for m in _CADDY_LINE.finditer(text)}
    if "caddy" not in matched_sources and caddy and "debug" not in caddy:
        notes.append("this Caddy log has no debug lines: " + CADDY_LEVEL_NOTE)
    return notes


# --------------------------------------------------------------------------- explaining


@dataclass(frozen=True)
class Explanation:
    """What one recognised kind of line means (identical lines are counted, not repeated)."""

    pattern: str
    source: str
    line: str
    says: str
    causes: tuple[str, ...]
    codes: tuple[str, ...]
    fixes: tuple[tuple[str, str], ...]
    confirm: str
    count: int = 1
    key: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "source": self.source,
            "line": self.line,
            "count": self.count,
            "says": self.says,
            "causes": list(self.causes),
            "codes": list(self.codes),
            "fixes": [{"server": s, "fix": f} for s, f in self.fixes],
            "confirm": self.confirm,
        }


@dataclass(frozen=True)
class ExplainResult:
    explanations: tuple[Explanation, ...]
    notes: tuple[str, ...]
    lines: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "explanations": [e.to_dict() for e in self.explanations],
            "notes": list(self.notes),
        }

    @property
    def codes(self) -> tuple[str, ...]:
        """Every finding code named, in order of first appearance."""
        return tuple(dict.fromkeys(c for e in self.explanations for c in e.codes))


def confirm_command(probes: tuple[str, ...]) -> str:
    """The ``mtlscheck probe`` line that would confirm an explanation."""
    if not probes:
        return ""
    cmd = "mtlscheck probe https://SERVER/ --cert client.pem --key client.key"
    if MINTED_PROBES & set(probes):
        cmd += " --ca-cert ca.pem --ca-key ca.key"
    return cmd + f" --probes {','.join(probes)}"


def _fill(text: str, groups: dict[str, str]) -> str:
    for name, value in groups.items():
        text = text.replace("{" + name + "}", value)
    return text


def _explain_match(p: Pattern, m: re.Match[str], line: str) -> Explanation | None:
    groups = {k: v.strip() for k, v in m.groupdict().items() if v is not None}
    if "alert" in groups:
        groups["alert"] = normalise_alert(groups["alert"])
    meaning: Meaning | None = None
    key = p.id
    if p.lookup == "verify":
        num = int(groups["num"])
        meaning = VERIFY_ERRORS.get(num)
        key = f"verify:{p.source}:{num}"
        if meaning is None:
            meaning = Meaning(
                f"OpenSSL verify error {num}: {groups.get('text', '')}",
                ("see the OpenSSL documentation of X509_V_ERR errors",),
                (_REJECTED,),
                _REJECTED,
                ("valid",),
            )
    elif p.lookup == "alert":
        meaning = alert_meaning(groups["alert"])
        if meaning is None:
            return None  # an alert that says nothing about certificates
        key = f"alert:{groups['alert']}"
    says = _fill(p.says, groups)
    if meaning is not None:
        says = f"{says}: {meaning.says}"
        causes, codes, probes = meaning.causes, meaning.codes, meaning.probes
        fixes = meaning.fixes
    else:
        from mtlscheck._fixes import fixes_for

        causes = tuple(_fill(c, groups) for c in p.causes)
        codes, probes = p.codes, p.probes
        fixes = (*p.extra_fixes, *(fixes_for(p.fix, n=groups.get("n", "N")) if p.fix else ()))
    return Explanation(
        pattern=p.id,
        source=p.source,
        line=line.strip()[:500],
        says=says,
        causes=causes,
        codes=codes,
        fixes=fixes,
        confirm=confirm_command(probes),
        key=key,
    )


def explain_line(line: str) -> list[Explanation]:
    """Every pattern that recognises ``line``, each once (a pattern may match twice)."""
    out: dict[str, Explanation] = {}
    for p in PATTERNS:
        m = p.compiled.search(line)
        if m is None or (p.unless and _compiled(p.unless).search(line)):
            continue
        e = _explain_match(p, m, line)
        if e is not None and e.key not in out:  # one alert quoted twice (Python) counts once
            out[e.key] = e
    return list(out.values())


def explain(text: str) -> ExplainResult:
    """Explain every recognised line of ``text``; identical kinds are counted once."""
    found: dict[str, Explanation] = {}
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for line in lines:
        for e in explain_line(line):
            prev = found.get(e.key)
            if prev is None:
                found[e.key] = e
            else:
                found[e.key] = replace(prev, count=prev.count + 1)
    notes = _level_notes(text, {e.source for e in found.values()})
    if not found:
        notes.append(
            "no mTLS error recognised. If the log is simply empty, check its level: "
            + "; ".join((NGINX_LEVEL_NOTE, APACHE_LEVEL_NOTE, CADDY_LEVEL_NOTE, HAPROXY_NOTE))
        )
    return ExplainResult(tuple(found.values()), tuple(dict.fromkeys(notes)), len(lines))
