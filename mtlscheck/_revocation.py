"""Revocation facts of the ``revoked`` probe: was it enforced, and what could have enforced it.

A server refuses a revoked client certificate only through a CRL it was given (``ssl_crl``,
``SSLCARevocationFile`` + ``SSLCARevocationCheck``, ``crl-file``) or through OCSP (``ssl_ocsp
on``, ``SSLOCSPEnable on``), which asks the responder the certificate names in its Authority
Information Access, or one set on the server.  From the client side mtlscheck sees the answer
and the certificate it sent: this module puts both into a
:class:`~mtlscheck._model.RevocationInfo` on each ``revoked`` result, and the
``revocation-not-checked`` finding names the mechanisms that were available.

The results are annotated after the run (:func:`annotate`), where the probe identities are
known, and the findings are computed again so that the finding's message can use them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from mtlscheck._model import OutcomeKind, ProbeResult, RevocationInfo, TargetResult

if TYPE_CHECKING:
    from mtlscheck._pki import PKI

__all__ = ["PROBE", "annotate", "certificate_urls", "crl_lists", "mechanism_text", "static_info"]

PROBE = "revoked"


def certificate_urls(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(OCSP responder URLs from the AIA, CRL distribution point URLs) of ``cert``."""
    ocsp: list[str] = []
    crl: list[str] = []
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        aia = None
    for desc in aia or ():
        if desc.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            desc.access_location, x509.UniformResourceIdentifier
        ):
            ocsp.append(desc.access_location.value)
    try:
        dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except (x509.ExtensionNotFound, ValueError):
        dps = None
    for dp in dps or ():
        crl.extend(
            n.value for n in dp.full_name or () if isinstance(n, x509.UniformResourceIdentifier)
        )
    return tuple(ocsp), tuple(crl)


def crl_lists(crl_file: Path, cert: x509.Certificate) -> bool:
    """Whether a CRL in ``crl_file`` (PEM, several concatenated) from ``cert``'s issuer lists
    its serial.  An unreadable file lists nothing: this only enriches a message."""
    from mtlscheck._errors import MtlscheckError
    from mtlscheck._files import read_input

    try:
        data = read_input(crl_file, "CRL file")
    except MtlscheckError:
        return False
    marker = b"-----END X509 CRL-----"
    for block in data.split(marker)[:-1]:
        try:
            crl = x509.load_pem_x509_crl(block + marker)
        except ValueError:
            continue
        if crl.issuer == cert.issuer and crl.get_revoked_certificate_by_serial_number(
            cert.serial_number
        ):
            return True
    return False


def static_info(cert: x509.Certificate | None, pki: PKI | None) -> RevocationInfo:
    """What the certificate and the ``--pki`` directory offer a server, before any outcome."""
    if cert is None:
        return RevocationInfo(enforced=None)
    ocsp, crl = certificate_urls(cert)
    crl_file = None
    if pki is not None and crl_lists(pki.crl, cert):
        crl_file = str(pki.crl)
    return RevocationInfo(enforced=None, crl_file=crl_file, crl_urls=crl, ocsp_urls=ocsp)


def judged(
    result: ProbeResult, base: RevocationInfo, valid: Sequence[ProbeResult] = ()
) -> RevocationInfo:
    """``base`` with what the outcome of ``result`` says about enforcement.

    ``valid`` are the ``valid`` results over the same TLS version: when the valid identity is
    refused too (a CRL missing for one CA, an OCSP responder the server cannot reach), a
    refused revoked certificate says nothing about revocation - unless the server named it
    (alert ``certificate_revoked``).
    """
    from mtlscheck._diagnose import accepted, rejected

    o = result.outcome
    if o is None:
        return base
    by_revocation = o.kind is OutcomeKind.TLS_ALERT and o.alert == "certificate_revoked"
    how = o.summary
    enforced = False if accepted(result) else True if rejected(result) else None
    if enforced and not by_revocation and valid and not any(accepted(v) for v in valid):
        enforced = None
        how += " (valid is refused too: not a sign of a revocation check)"
    return dataclasses.replace(base, enforced=enforced, how=how, by_revocation=by_revocation)


def annotate(
    target: TargetResult, identities: Mapping[str, object], pki: PKI | None
) -> TargetResult:
    """``target`` with a :class:`RevocationInfo` on every ``revoked`` result that ran, and its
    findings computed again so ``revocation-not-checked`` can name the mechanisms."""
    ident = identities.get(PROBE)
    cert = getattr(ident, "cert", None)
    if not any(r.probe == PROBE and r.outcome is not None for r in target.results):
        return target
    base = static_info(cert if isinstance(cert, x509.Certificate) else None, pki)
    results = tuple(
        dataclasses.replace(
            r,
            revocation=judged(
                r,
                base,
                [
                    v
                    for v in target.results
                    if v.probe == "valid"
                    and v.outcome is not None
                    and v.tls_version == r.tls_version
                ],
            ),
        )
        if r.probe == PROBE and r.outcome is not None
        else r
        for r in target.results
    )
    from mtlscheck._diagnose import diagnose
    from mtlscheck._expect import ServerProfile

    findings = diagnose(
        results,
        profile=ServerProfile(target.server_profile),
        unsupported=target.unsupported_versions,
        insecure=target.insecure,
    )
    return dataclasses.replace(target, results=results, findings=findings)


def mechanism_text(infos: Sequence[RevocationInfo]) -> str:
    """For the ``revocation-not-checked`` message: what could have refused the certificate."""
    if not infos:
        return ""
    info = infos[0]
    crl = (
        f"the CRL {info.crl_file} lists it (nginx ssl_crl; Apache SSLCARevocationFile + "
        "SSLCARevocationCheck chain; HAProxy crl-file)"
        if info.crl_file
        else "the certificate names CRL distribution points "
        f"({', '.join(info.crl_urls)}), but servers load CRLs from a file (ssl_crl, "
        "SSLCARevocationFile), they do not fetch them"
        if info.crl_urls
        else "mtlscheck knows no CRL listing it (with --pki it checks the PKI's crl.pem)"
    )
    if info.ocsp_urls:
        ocsp = (
            f"the certificate names the OCSP responder {info.ocsp_urls[0]}, which nginx "
            "'ssl_ocsp on' and Apache 'SSLOCSPEnable on' would ask"
        )
    else:
        ocsp = (
            "the certificate names no OCSP responder, so OCSP needs one set on the server "
            "(nginx ssl_ocsp_responder; Apache SSLOCSPDefaultResponder + "
            "SSLOCSPOverrideResponder on)"
        )
    return f"mechanisms: {crl}; {ocsp}"
