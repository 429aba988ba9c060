"""The probe catalogue is one table of self-contained specs, and the diagnosis reads it by name.

No network: these tests check the catalogue itself - every probe can be built or says why not,
every probe is judged by some finding rule or says why none is needed, and the names in
results and JSON stay the strings users type.
"""

from __future__ import annotations

import pytest

from mtlscheck import CATALOGUE
from mtlscheck._diagnose import RULES, Evidence, probes_read
from mtlscheck._expect import Expectation, ServerProfile
from mtlscheck._pki import ROLES
from mtlscheck._probes import (
    DEFAULT_IDENTITY_HEADERS,
    DEFAULT_PROBES,
    IdentitySources,
    ProbeName,
    ProbeSpec,
    RequestOptions,
    Skip,
    other_servername,
    probe_request,
    resolve_identities,
    select_probes,
)
from mtlscheck._runner import default_expectations


def test_catalogue_is_keyed_by_every_probe_name_in_order() -> None:
    assert list(CATALOGUE) == [p.value for p in ProbeName]
    assert all(isinstance(spec, ProbeSpec) and spec.name is name for name, spec in
               zip(ProbeName, CATALOGUE.values(), strict=True))  # fmt: skip


@pytest.mark.parametrize("name", list(ProbeName))
def test_every_probe_has_a_builder_or_a_pki_role_and_a_description(name: ProbeName) -> None:
    spec = CATALOGUE[name]
    assert spec.builds, f"{name}: no way to get its identity (builder, PKI role, or none at all)"
    assert spec.description.strip() and spec.needs.strip()
    if spec.pki_role is not None:
        assert spec.pki_role in ROLES
    if spec.no_certificate:
        assert spec.from_user is None and spec.pki_role is None and spec.mint is None
    # a probe that may end without an identity says why
    if not spec.no_certificate and spec.mint is None:
        assert spec.skip, f"{name}: can be skipped but has no reason"


@pytest.mark.parametrize("name", list(ProbeName))
def test_every_probe_is_read_by_a_finding_rule_or_says_why_not(name: ProbeName) -> None:
    read = {p for rule in RULES for p in probes_read(rule)}
    spec = CATALOGUE[name]
    assert name in read or spec.no_finding.strip(), (
        f"{name}: no rule reads it; add one (@reads) or give ProbeSpec.no_finding"
    )


def test_rules_name_probes_only_by_enum() -> None:
    """A rule asking for a probe that does not exist fails loudly (it used to be a string
    that silently matched nothing: ev.accepted("expird"))."""
    ev = Evidence((), ServerProfile.GENERIC, (), False)
    with pytest.raises(ValueError):
        ev.accepted("expird")  # type: ignore[arg-type]
    assert ev.accepted(ProbeName.EXPIRED) == []


def test_public_names_stay_strings() -> None:
    assert DEFAULT_PROBES == ("no-cert", "valid", "expired", "wrong-ca")
    chosen = select_probes("all")
    assert chosen == tuple(CATALOGUE) and all(isinstance(p, str) for p in chosen)
    assert {"forged-headers", "sni-mismatch", "plaintext"} <= set(chosen)
    assert not {"forged-headers", "sni-mismatch", "plaintext"} & set(DEFAULT_PROBES)
    assert f"{ProbeName.NO_CERT}" == "no-cert" and ProbeName("no-cert") is ProbeName.NO_CERT


def test_identities_come_from_the_specs_without_a_ca() -> None:
    got = resolve_identities(select_probes("all"), IdentitySources())
    for name in ("no-cert", "forged-headers", "sni-mismatch", "plaintext"):
        assert got[name] is None  # presents nothing
    for name in ("wrong-ca", "self-signed"):
        ident = got[name]
        assert ident is not None and not isinstance(ident, Skip)  # minted on the spot
    for name in ("valid", "expired", "not-yet-valid", "revoked", "no-client-eku", "lookalike-ca",
                 "chain-missing"):  # fmt: skip
        assert isinstance(got[name], Skip) and got[name].reason  # type: ignore[union-attr]


def test_request_changes_resolve_per_target() -> None:
    opts = RequestOptions()
    assert probe_request("no-cert", "api.example.com", opts) is None
    forged = probe_request("forged-headers", "api.example.com", opts)
    assert forged is not None and forged.headers == DEFAULT_IDENTITY_HEADERS
    sni = probe_request("sni-mismatch", "api.example.com", opts)
    assert sni is not None and sni.servername is not None
    assert sni.servername.endswith(".example.com") and sni.servername.startswith("mtlscheck-")
    # one random label per run: both TLS versions and the printed command agree
    assert probe_request("sni-mismatch", "api.example.com", opts) == sni
    assert other_servername("127.0.0.1", "x") == "x.invalid"
    assert other_servername("localhost", "x") == "x.localhost"
    given = RequestOptions(other_servername="www.example.com")
    assert probe_request("sni-mismatch", "api.example.com", given).servername == "www.example.com"  # type: ignore[union-attr]
    plain = probe_request("plaintext", "api.example.com", opts)
    assert plain is not None and plain.plain_http and not plain.headers


def test_plaintext_expectation_is_its_own_and_ignores_the_profile() -> None:
    for profile in ServerProfile:
        exp = default_expectations(["plaintext", "no-cert"], profile, {})
        assert exp["plaintext"] == Expectation.parse(CATALOGUE["plaintext"].expectation or "")
    assert str(default_expectations(["no-cert"], ServerProfile.NGINX, {})["no-cert"]) == "400|403"
