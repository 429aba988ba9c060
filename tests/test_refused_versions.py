"""Table tests (no network) for what GnuTLS, Java's HttpsServer and servers without TLS 1.3
taught: a TLS version is not always refused with ``protocol_version``, and a refusal of the
ClientHello itself is not a refusal of a certificate.  The real servers are in
tests/test_other_stacks.py."""

from __future__ import annotations

from mtlscheck._diagnose import Code, diagnose
from mtlscheck._expect import Expectation
from mtlscheck._model import HandshakeFacts, Outcome, OutcomeKind, Phase, ProbeResult, Verdict
from mtlscheck._verdict import judge, refused_versions

BOTH = ("1.2", "1.3")
HELLO = HandshakeFacts(server_hello_seen=True, cert_requested=True, handshake_completed=True)
NONE = HandshakeFacts()


def res(probe: str, version: str | None, outcome: Outcome, facts: HandshakeFacts) -> ProbeResult:
    verdict = Verdict.ERROR if not facts.server_hello_seen else Verdict.PASS
    return ProbeResult(probe, "https://x/", version, "rejected", verdict, outcome, facts)


def ok(probe: str, version: str) -> ProbeResult:
    return res(probe, version, Outcome(OutcomeKind.HTTP, status=200), HELLO)


def refused(probe: str, version: str) -> ProbeResult:
    return res(probe, version, Outcome(OutcomeKind.TLS_ALERT, alert="unknown_ca"), HELLO)


def hello_alert(probe: str, version: str, name: str = "handshake_failure") -> ProbeResult:
    return res(
        probe, version, Outcome(OutcomeKind.TLS_ALERT, alert=name, phase=Phase.HANDSHAKE), NONE
    )


def hangup(probe: str, version: str, reason: str = "closed") -> ProbeResult:
    return res(probe, version, Outcome(OutcomeKind.CONNECT, reason=reason), NONE)


def not_offered(probe: str, version: str) -> ProbeResult:
    o = Outcome(OutcomeKind.TLS_VERSION, reason="not-offered", phase=Phase.HANDSHAKE)
    return res(probe, version, o, NONE)


def test_protocol_version_on_every_probe_is_a_refused_version_even_alone() -> None:
    got = refused_versions([not_offered("no-cert", "1.3"), not_offered("valid", "1.3")], ("1.3",))
    assert [v for v, _ in got] == ["1.3"]
    assert "protocol_version" in got[0][1]


def test_handshake_failure_before_the_server_hello_while_the_other_version_is_answered() -> None:
    """GnuTLS with one version switched off, OpenSSL 1.0.2 and other servers without TLS 1.3."""
    results = [ok("valid", "1.2"), refused("no-cert", "1.2")]
    results += [hello_alert("valid", "1.3"), hello_alert("no-cert", "1.3")]
    got = refused_versions(results, BOTH)
    assert [v for v, _ in got] == ["1.3"]
    assert "handshake_failure" in got[0][1] and "TLS 1.2 got a ServerHello" in got[0][1]


def test_a_hang_up_before_the_server_hello_while_the_other_version_is_answered() -> None:
    """Java's HttpsServer drops JSSE's protocol_version alert and closes."""
    results = [hangup("valid", "1.2"), hangup("no-cert", "1.2", "reset")]
    results += [ok("valid", "1.3"), refused("no-cert", "1.3")]
    got = refused_versions(results, BOTH)
    assert [v for v, _ in got] == ["1.2"]
    assert "hang-up" in got[0][1]


def test_without_an_answered_version_a_hello_refusal_stays_what_it_is() -> None:
    """Alone, handshake_failure or a hang-up before the ServerHello could be anything: no shared
    cipher, a server that drops connections, a TLS-level block."""
    assert (
        refused_versions([hello_alert("valid", "1.3"), hello_alert("no-cert", "1.3")], ("1.3",))
        == ()
    )
    everything = [hangup(p, v) for p in ("valid", "no-cert") for v in BOTH]
    assert refused_versions(everything, BOTH) == ()


def test_one_answered_probe_or_another_failure_keeps_the_version() -> None:
    answered = [ok("valid", "1.2"), ok("valid", "1.3"), hello_alert("no-cert", "1.3")]
    assert refused_versions(answered, BOTH) == ()
    timeout = Outcome(OutcomeKind.CONNECT, reason="timeout", detail="no answer")
    slow = [ok("valid", "1.2"), hello_alert("valid", "1.3"), res("no-cert", "1.3", timeout, NONE)]
    assert refused_versions(slow, BOTH) == ()
    other_alert = [ok("valid", "1.2"), hello_alert("valid", "1.3", "unrecognized_name")]
    assert refused_versions(other_alert, BOTH) == ()


def test_plain_http_probes_have_no_version_and_do_not_count() -> None:
    plain = res("plaintext", None, Outcome(OutcomeKind.CONNECT, reason="closed"), NONE)
    results = [ok("valid", "1.2"), hello_alert("valid", "1.3"), plain]
    assert [v for v, _ in refused_versions(results, BOTH)] == ["1.3"]


def test_the_inconclusive_reason_names_a_refused_client_hello() -> None:
    o = Outcome(OutcomeKind.TLS_ALERT, alert="handshake_failure", phase=Phase.HANDSHAKE)
    verdict, why = judge(o, NONE, Expectation.parse("rejected"), "1.3")
    assert verdict is Verdict.ERROR
    assert why.startswith("inconclusive:") and "ClientHello" in why


def codes(results: list[ProbeResult]) -> dict[str, str]:
    return {f.code: f.message for f in diagnose(results)}


def test_a_refused_client_hello_is_not_a_refused_valid_certificate() -> None:
    """GnuTLS without TLS 1.3 answers our TLS 1.3 ClientHello with handshake_failure: the server
    never saw a certificate, so this is no valid-cert-rejected (whose text blamed "no acceptable
    certificate"), but a target we could not do TLS with."""
    found = codes([hello_alert("valid", "1.3"), hello_alert("no-cert", "1.3")])
    assert Code.VALID_CERT_REJECTED not in found
    assert "shares no TLS version or cipher suite" in found[Code.TARGET_UNREACHABLE]


def test_a_refused_sni_mismatch_hello_is_that_probe_s_answer_not_an_unreachable_target() -> None:
    found = codes(
        [
            ok("valid", "1.2"),
            refused("no-cert", "1.2"),
            hello_alert("sni-mismatch", "1.2", "unrecognized_name"),
        ]
    )
    assert Code.TARGET_UNREACHABLE not in found


def test_expired_accepted_while_foreign_cas_are_refused_names_the_dates() -> None:
    """nghttpx --verify-client-tolerate-expired verifies the chain, not the validity period."""
    found = codes(
        [
            ok("valid", "1.2"),
            refused("no-cert", "1.2"),
            refused("wrong-ca", "1.2"),
            ok("expired", "1.2"),
        ]
    )
    assert "validity period" in found[Code.EXPIRED_CERT_ACCEPTED]
    assert "not verified)" not in found[Code.EXPIRED_CERT_ACCEPTED]
    found = codes(
        [ok("valid", "1.2"), refused("no-cert", "1.2"), ok("wrong-ca", "1.2"), ok("expired", "1.2")]
    )
    assert "requested but not verified" in found[Code.EXPIRED_CERT_ACCEPTED]
