"""What OpenSSL's certificate-verify errors and TLS alerts mean for client-certificate auth.

Two lookup tables shared by ``mtlscheck explain`` (a log line names an error or an alert) and
``mtlscheck verify`` (OpenSSL's verifier returns an error number), so both say the same thing
and name the same finding codes (:class:`mtlscheck._diagnose.Code` values).

Error texts are written as the servers log them with OpenSSL 3.0 (nginx
``(10:certificate has expired)``, Apache ``Error (10): certificate has expired``): the
OpenSSL bundled with pyOpenSSL may word a few of them differently (4.0 appends "or the system
clock is incorrect" to 9), and what a user compares is the server's log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from mtlscheck._fixes import fixes_for

__all__ = ["ALERTS", "VERIFY_ERRORS", "Meaning", "alert_meaning", "normalise_alert", "verify_text"]

# Probes that need the CA key (mtlscheck mints the certificate on the spot).
MINTED_PROBES = frozenset({"expired", "not-yet-valid", "revoked", "no-client-eku", "lookalike-ca"})


@dataclass(frozen=True)
class Meaning:
    """What one error or alert means: who decided what, the likely causes (most likely
    first), the finding codes a probe would name, the fix and the probes that confirm it."""

    says: str
    causes: tuple[str, ...]
    codes: tuple[str, ...]
    fix: str | None
    probes: tuple[str, ...]
    text: str = ""
    """The error text as servers log it (verify errors only)."""
    extra_fixes: tuple[tuple[str, str], ...] = ()

    @property
    def fixes(self) -> tuple[tuple[str, str], ...]:
        base = fixes_for(self.fix) if self.fix else ()
        return (*self.extra_fixes, *base)


_REJECTED = "valid-cert-rejected"
_CHAIN = "chain-incomplete"
_CA_NAMES = "ca-names-exclude-client-issuer"
_DEPTH = "verify-depth-too-small"
_SERVER = "server-cert-untrusted"

_RENEW_CRL = (
    ("nginx", "renew the CRL (openssl ca -gencrl / your CA's CRL endpoint), install it as the "
     "ssl_crl file and reload nginx: nginx reads the file only at (re)load"),
    ("apache", "renew the CRL named by SSLCARevocationFile and reload Apache (apachectl "
     "graceful)"),
)  # fmt: skip
_ALL_CRLS = (
    ("nginx", "ssl_crl must hold one CRL for EVERY CA in the client chain (root and "
     "intermediates, concatenated): nginx checks the whole chain"),
    ("apache", "SSLCARevocationFile must hold the CRL of every CA in the chain with "
     "SSLCARevocationCheck chain (or use 'leaf' to check only the issuing CA)"),
)  # fmt: skip


def _v(
    text: str,
    says: str,
    causes: tuple[str, ...],
    codes: tuple[str, ...],
    fix: str | None,
    probes: tuple[str, ...],
    extra: tuple[tuple[str, str], ...] = (),
) -> Meaning:
    return Meaning(says, causes, codes, fix, probes, text, extra)


_UNTRUSTED_ISSUER = (
    "the client did not send its intermediate CA certificate(s) after the leaf "
    "(curl --cert chain.pem, where chain.pem = leaf + intermediates)",
    "the server trusts another CA: its CA file (ssl_client_certificate / "
    "SSLCACertificateFile / ca-file) does not hold the CA that issued this certificate",
    "a certificate from a foreign CA (a test, or a client that picked the wrong certificate): "
    "then the server did the right thing",
)

VERIFY_ERRORS: Mapping[int, Meaning] = MappingProxyType(
    {
        2: _v(
            "unable to get issuer certificate",
            "the server could not find the issuer of a CA certificate in the client chain",
            (
                "the chain the client sent ends at an intermediate whose own issuer (the "
                "root) is not in the server's CA file",
                *_UNTRUSTED_ISSUER[1:],
            ),
            (_REJECTED, _CA_NAMES),
            _CA_NAMES,
            ("valid", "chain-missing"),
        ),
        3: _v(
            "unable to get certificate CRL",
            "the server checks revocation and has no CRL for one CA of the client chain",
            (
                "the CRL file holds the CRL of the root but not of the intermediate CA (or "
                "the reverse): with a CRL configured, nginx (and Apache with "
                "SSLCARevocationCheck chain) need one CRL per CA in the chain",
                "a certificate from a CA the server has no CRL for, e.g. a foreign or "
                "self-signed one (nginx logs this error for those when ssl_crl is set)",
                "the verify depth is smaller than the chain (nginx logs 3 after cutting "
                "the chain short)",
            ),
            (_REJECTED, _DEPTH),
            _REJECTED,
            ("valid", "wrong-ca"),
            _ALL_CRLS,
        ),
        7: _v(
            "certificate signature failure",
            "a signature in the client chain does not verify with its issuer's key",
            (
                "a certificate from a CA that only copies the trusted CA's name (a look-alike "
                "or a re-generated CA with the same name)",
                "the CA file holds an old CA certificate with the same name but another key",
            ),
            (_REJECTED, _CA_NAMES),
            _CA_NAMES,
            ("valid", "lookalike-ca"),
        ),
        9: _v(
            "certificate is not yet valid",
            "the server refused the client certificate: its notBefore is in the future",
            (
                "the certificate was issued with a start date in the future (or a test "
                "certificate: then the server did the right thing)",
                "the server's clock is behind",
            ),
            (_REJECTED,),
            "valid-cert-rejected/client",
            ("valid", "not-yet-valid"),
        ),
        10: _v(
            "certificate has expired",
            "the server refused the client certificate (or a CA above it): it has expired",
            (
                "the client certificate expired: renew it (check with mtlscheck inspect)",
                "an intermediate CA in the chain the client sends expired",
                "a test with an expired certificate: then the server did the right thing",
            ),
            (_REJECTED,),
            "valid-cert-rejected/client",
            ("valid", "expired"),
        ),
        11: _v(
            "CRL is not yet valid",
            "the server's CRL has a lastUpdate in the future, so it rejects every client",
            ("the CRL was issued by a machine whose clock is ahead", "the server's clock"),
            (_REJECTED,),
            None,
            ("valid",),
            _RENEW_CRL,
        ),
        12: _v(
            "CRL has expired",
            "the server's CRL is past its nextUpdate: the server now rejects EVERY client "
            "certificate from that CA, not only revoked ones",
            (
                "nobody renewed the CRL file (or the server was not reloaded after it was "
                "renewed: nginx reads ssl_crl only at start/reload)",
            ),
            (_REJECTED,),
            None,
            ("valid",),
            _RENEW_CRL,
        ),
        18: _v(
            "self-signed certificate",
            "the client sent a self-signed certificate that the server does not trust",
            (
                "a self-signed client certificate (or a test with one: then the server did "
                "the right thing)",
                "the client picked the wrong certificate",
            ),
            (_REJECTED, _CA_NAMES),
            _CA_NAMES,
            ("valid", "self-signed"),
        ),
        19: _v(
            "self-signed certificate in certificate chain",
            "the client chain ends in a root that the server does not trust",
            (
                "the server trusts another CA (its CA file lacks this root)",
                "the client sent a chain from another PKI",
            ),
            (_REJECTED, _CA_NAMES),
            _CA_NAMES,
            ("valid", "wrong-ca"),
        ),
        20: _v(
            "unable to get local issuer certificate",
            "the server could not find the issuer of the client certificate among the CAs it "
            "trusts",
            (
                *_UNTRUSTED_ISSUER,
                "nginx without ssl_crl: ssl_verify_depth is smaller than the number of CA "
                "certificates above the client certificate (nginx logs 20 for a chain cut off "
                "at its depth, measured with ssl_verify_depth 0 and an intermediate CA)",
            ),
            (_REJECTED, _CHAIN, _CA_NAMES, _DEPTH),
            _CHAIN,
            ("valid", "chain-missing", "wrong-ca"),
        ),
        21: _v(
            "unable to verify the first certificate",
            "the server could not verify the client certificate up to a CA it trusts (nginx "
            "logs 21 where Apache logs 20 for the same certificate)",
            _UNTRUSTED_ISSUER,
            (_REJECTED, _CHAIN, _CA_NAMES),
            _CHAIN,
            ("valid", "chain-missing", "wrong-ca"),
        ),
        22: _v(
            "certificate chain too long",
            "the client chain is longer than the server's verify depth allows",
            (
                "ssl_verify_depth / SSLVerifyDepth is smaller than the number of CA "
                "certificates above the client certificate",
            ),
            (_DEPTH, _REJECTED),
            _DEPTH,
            ("valid",),
        ),
        23: _v(
            "certificate revoked",
            "the server refused the client certificate: its CRL lists it as revoked",
            (
                "the certificate was revoked: issue a new one",
                "a test with a revoked certificate: then the server did the right thing",
            ),
            (_REJECTED,),
            "valid-cert-rejected/client",
            ("valid", "revoked"),
        ),
        24: _v(
            "invalid CA certificate",
            "a CA certificate in the client chain is not marked as a CA (basicConstraints)",
            (
                "the client sent a non-CA certificate as its intermediate, or the CA file "
                "holds a leaf certificate instead of the CA",
            ),
            (_REJECTED, _CA_NAMES),
            _CA_NAMES,
            ("valid",),
        ),
        25: _v(
            "path length constraint exceeded",
            "a CA's pathLenConstraint forbids this many CAs below it",
            ("the client chain has more intermediate CAs than the root allows",),
            (_REJECTED,),
            _REJECTED,
            ("valid",),
        ),
        26: _v(
            "unsuitable certificate purpose",
            "the server refused the client certificate: it is not allowed for TLS client "
            "authentication (OpenSSL 1.1 says 'unsupported certificate purpose')",
            (
                "the certificate's extendedKeyUsage lacks clientAuth (a server certificate "
                "used as a client certificate?)",
                "a CA in the chain restricts extendedKeyUsage without clientAuth",
                "a test with a certificate without clientAuth: then the server did the right thing",
            ),
            (_REJECTED,),
            "valid-cert-rejected/client",
            ("valid", "no-client-eku"),
        ),
        27: _v(
            "certificate not trusted",
            "the root is in the server's CA file but not trusted for client authentication",
            ("the CA file marks the root with trust settings that exclude clientAuth",),
            (_REJECTED, _CA_NAMES),
            _CA_NAMES,
            ("valid",),
        ),
        28: _v(
            "certificate rejected",
            "the root is explicitly rejected for client authentication by the CA file",
            ("the CA file marks the root as rejected for clientAuth",),
            (_REJECTED, _CA_NAMES),
            _CA_NAMES,
            ("valid",),
        ),
    }
)


def verify_text(number: int, fallback: str = "") -> str:
    """OpenSSL 3.0's text for verify error ``number`` (what nginx/Apache log)."""
    known = VERIFY_ERRORS.get(number)
    return known.text if known is not None else fallback


def _a(
    says: str,
    causes: tuple[str, ...],
    codes: tuple[str, ...],
    fix: str | None,
    probes: tuple[str, ...],
) -> Meaning:
    return Meaning(says, causes, codes, fix, probes)


_NO_CERT_CAUSES = (
    "the client sent no certificate: it was not given one (curl --cert/--key, "
    "requests cert=, Java keystore, Go tls.Config.Certificates)",
    "the client has a certificate but did not offer it because its issuer is not among the CA "
    "names the server advertises (browsers, Java and Go choose by CA name)",
    "a proxy or load balancer in front terminates TLS and does not pass the certificate on",
)

ALERTS: Mapping[str, Meaning] = MappingProxyType(
    {
        "certificate_required": _a(
            "the SERVER sent alert 116 certificate_required: it requires a client certificate "
            "and got none (TLS 1.3; arrives on the client's first read, after the handshake)",
            _NO_CERT_CAUSES,
            (_REJECTED, _CA_NAMES),
            _CA_NAMES,
            ("no-cert", "valid"),
        ),
        "handshake_failure": _a(
            "the peer sent alert 40 handshake_failure: a server requiring a client certificate "
            "sends it over TLS 1.2 when none came (it also means no common cipher/protocol)",
            (*_NO_CERT_CAUSES[:2], "no common TLS version or cipher suite"),
            (_REJECTED, _CA_NAMES),
            _CA_NAMES,
            ("no-cert", "valid"),
        ),
        "bad_certificate": _a(
            "the peer sent alert 42 bad_certificate: a Go server (Caddy, Traefik) sends it "
            "for EVERY client-certificate problem (none sent, untrusted, expired); OpenSSL "
            "servers send it for a not-yet-valid certificate",
            (
                "the server does not trust the certificate's issuer, or the chain is "
                "incomplete (the server log says which)",
                "the certificate expired or is not yet valid",
                "no certificate was sent (Go servers)",
            ),
            (_REJECTED, _CA_NAMES),
            _REJECTED,
            ("no-cert", "valid", "expired", "wrong-ca"),
        ),
        "unknown_ca": _a(
            "alert 48 unknown_ca: whoever SENT it does not trust the issuer of the OTHER "
            "side's certificate. Seen by a client: the server refused YOUR client certificate "
            "(not: your client does not know the server's CA)",
            _UNTRUSTED_ISSUER,
            (_REJECTED, _CHAIN, _CA_NAMES),
            _CHAIN,
            ("valid", "chain-missing", "wrong-ca"),
        ),
        "certificate_expired": _a(
            "alert 45 certificate_expired: the sender says the other side's certificate (or a "
            "CA above it) expired; seen by a client, the server refused YOUR certificate. "
            "Apache and HAProxy also send it for a CRL past its nextUpdate",
            (
                "the client certificate expired",
                "the server's CRL expired (HAProxy answers certificate_expired then)",
            ),
            (_REJECTED,),
            "valid-cert-rejected/client",
            ("valid", "expired"),
        ),
        "certificate_revoked": _a(
            "alert 44 certificate_revoked: the server's CRL lists the client certificate",
            ("the client certificate was revoked", "a test with a revoked certificate"),
            (_REJECTED,),
            "valid-cert-rejected/client",
            ("valid", "revoked"),
        ),
        "unsupported_certificate": _a(
            "alert 43 unsupported_certificate: the server refused the client certificate's "
            "purpose (extendedKeyUsage without clientAuth)",
            ("the certificate lacks extendedKeyUsage clientAuth (a server certificate?)",),
            (_REJECTED,),
            "valid-cert-rejected/client",
            ("valid", "no-client-eku"),
        ),
        "certificate_unknown": _a(
            "alert 46 certificate_unknown: the sender refused the other side's certificate "
            "for an unspecified reason (Java sends it for most trust failures; Apache for a "
            "CRL past its nextUpdate)",
            (
                "seen by a Java SERVER's client: the server does not trust the client "
                "certificate; seen in a Java CLIENT: it does not trust the server",
                "the server's CRL expired",
            ),
            (_REJECTED, _SERVER),
            _REJECTED,
            ("valid",),
        ),
        "internal_error": _a(
            "alert 80 internal_error: the server's verification failed internally; Apache "
            "sends it when the client chain is longer than SSLVerifyDepth (log AH02040)",
            ("SSLVerifyDepth smaller than the client chain", "a server-side error"),
            (_DEPTH, _REJECTED),
            _DEPTH,
            ("valid",),
        ),
        "access_denied": _a(
            "alert 49 access_denied: the server refused the certificate by policy",
            ("an access rule on the server (not a verification failure)",),
            (_REJECTED,),
            _REJECTED,
            ("valid",),
        ),
        "decrypt_error": _a(
            "alert 51 decrypt_error: a handshake signature did not verify; for client auth, "
            "the client's CertificateVerify did not match its certificate",
            (
                "the private key does not belong to the certificate (check with mtlscheck "
                "inspect cert.pem key.pem)",
            ),
            (_REJECTED,),
            "valid-cert-rejected/client",
            ("valid",),
        ),
        "protocol_version": _a(
            "alert 70 protocol_version: no TLS version in common; says nothing about client "
            "certificates",
            ("the server does not offer the TLS version the client asked for (e.g. TLS 1.3)",),
            ("tls13-not-offered",),
            "tls13-not-offered",
            ("valid",),
        ),
    }
)

# Go's crypto/tls alert texts ("remote error: tls: bad certificate") -> IANA names.
_GO_ALERTS = {
    "unknown certificate authority": "unknown_ca",
    "expired certificate": "certificate_expired",
    "revoked certificate": "certificate_revoked",
    "unknown certificate": "certificate_unknown",
    "error decrypting message": "decrypt_error",
    "protocol version not supported": "protocol_version",
}


def normalise_alert(text: str) -> str:
    """``tlsv13 alert certificate required`` / ``TLSV1_ALERT_UNKNOWN_CA`` / ``bad certificate``
    / Go's ``unknown certificate authority`` -> the IANA snake_case name."""
    t = text.strip().lower()
    for prefix in ("tlsv13 alert ", "tlsv1 alert ", "sslv3 alert ", "tlsv13_alert_",
                   "tlsv1_alert_", "sslv3_alert_"):  # fmt: skip
        if t.startswith(prefix):
            t = t[len(prefix) :]
            break
    t = _GO_ALERTS.get(t, t)
    return t.replace(" ", "_")


def alert_meaning(text: str) -> Meaning | None:
    return ALERTS.get(normalise_alert(text))
