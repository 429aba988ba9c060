"""Does a server certificate cover the name we connect to?  And what name goes on the wire?

Kept apart from :mod:`mtlscheck._tls` because the reproduce commands, the client and the
diagnosis all ask the same question and must get the same answer as the tools a user checks
us against (curl, ``openssl s_client``, Python's ``ssl``).  So the check is OpenSSL's own
(``X509_check_host`` / ``X509_check_ip``, reached through ``X509_VERIFY_PARAM_set1_host`` and a
verification whose only trust anchor is the certificate itself), with the flags Python's
``ssl`` uses: a wildcard only as the whole left-most label (curl refuses ``f*.example.com``
too), never directly under a single label (``*.example``), and the subject CN only when the
certificate has no DNS name at all.  Internationalised names are converted with the ``idna``
package (UTS #46, IDNA 2008), as curl with libidn2 and browsers do.

A pure-Python port of the same rules is the fallback for a pyOpenSSL binding that lacks a
symbol; the tests hold both to one table.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from cryptography import x509
from cryptography.x509.oid import NameOID

from mtlscheck._errors import UsageError

__all__ = ["is_ip_address", "name_matches", "to_ascii_host"]

# What an ASCII host label may hold: letters, digits, hyphen, and underscore (not valid in
# host names, but common in internal service names and harmless in SNI and the check).
_ASCII_LABEL = re.compile(r"^[A-Za-z0-9_-]+$")


@functools.lru_cache(maxsize=1024)
def is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def to_ascii_host(name: str) -> str:
    """The A-label form of a host name, for SNI and the certificate check.

    ``bücher.example`` becomes ``xn--bcher-kva.example`` (UTS #46 mapping, so case and
    full-width dots are folded as a browser would); ASCII names are lower-cased; one trailing
    dot is dropped (SNI carries no trailing dot, RFC 6066 §3, and certificates never hold one:
    curl does the same).  IP literals come back in their normal form, without brackets.

    Raises :class:`UsageError` (one line) for a name that is not a valid host name.
    """
    raw = name.strip()
    if is_ip_address(raw):
        return str(ipaddress.ip_address(raw.strip("[]")))
    host = raw[:-1] if raw.endswith(".") else raw
    if not host:
        raise UsageError(f"empty host name {name!r}")
    if host.isascii():
        labels = host.split(".")
        for label in labels:
            if not label:
                raise UsageError(f"{name!r} is not a valid host name: it has an empty label")
            if not _ASCII_LABEL.match(label):
                raise UsageError(f"{name!r} is not a valid host name (label {label!r})")
            if label[:4].lower() == "xn--":
                _check_a_label(name, label)
        return host.lower()
    import idna  # only for internationalised names: most runs never need it

    try:
        return idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise UsageError(f"{name!r} is not a valid internationalised host name: {exc}") from None


def _check_a_label(name: str, label: str) -> None:
    import idna

    try:
        idna.decode(label)
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise UsageError(f"{name!r} holds an invalid IDNA label {label!r}: {exc}") from None


def name_matches(cert: x509.Certificate, name: str) -> bool:
    """Whether ``cert`` covers ``name`` (a host name in U- or A-label form, or an IP literal).

    A name that is not a valid host name is covered by nothing.  Answers are remembered per
    (certificate, name): a fleet meets the same server certificate on every probe, and the
    OpenSSL check builds a verification each time.
    """
    key = (cert, name)  # a certificate hashes and compares by its DER encoding
    found = _answers.get(key)
    if found is None:
        found = _name_matches(cert, name)
        if len(_answers) >= 4096:
            _answers.clear()
        _answers[key] = found
    return found


_answers: dict[tuple[x509.Certificate, str], bool] = {}


def _name_matches(cert: x509.Certificate, name: str) -> bool:
    try:
        host = to_ascii_host(name)
    except UsageError:
        return False
    ip = _ip(host)
    found = _openssl_matches(cert, host, ip)
    if found is not None:
        return found
    return _python_matches(cert, host, ip)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


# --------------------------------------------------------------------------- OpenSSL's check


def _openssl_matches(
    cert: x509.Certificate, host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
) -> bool | None:
    """OpenSSL's verdict, or None when the binding cannot give one (missing symbol, odd
    certificate): the caller then uses the Python port of the same rules.

    The verification trusts the certificate itself (``X509_V_FLAG_PARTIAL_CHAIN``) at a time
    inside its validity, so the host check is the only thing that can fail; any other error
    means OpenSSL did not get to the check, and we do not guess from it.
    """
    try:
        from OpenSSL import crypto
        from OpenSSL._util import ffi, lib

        flags = lib.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
        # 62 / 64: X509_V_ERR_HOSTNAME_MISMATCH / X509_V_ERR_IP_ADDRESS_MISMATCH
        mismatch = {
            getattr(lib, "X509_V_ERR_HOSTNAME_MISMATCH", 62),
            getattr(lib, "X509_V_ERR_IP_ADDRESS_MISMATCH", 64),
        }
        x509_ptr = crypto.X509.from_cryptography(cert)._x509
        store = lib.X509_STORE_new()
        param = lib.X509_VERIFY_PARAM_new()
        ctx = lib.X509_STORE_CTX_new()
    except Exception:
        return None
    try:
        if store == ffi.NULL or param == ffi.NULL or ctx == ffi.NULL:
            return None
        if lib.X509_STORE_add_cert(store, x509_ptr) != 1:
            return None
        lib.X509_VERIFY_PARAM_set_flags(param, lib.X509_V_FLAG_PARTIAL_CHAIN)
        lib.X509_VERIFY_PARAM_set_time(param, _inside_validity(cert))
        if ip is not None:
            packed = ip.packed
            if lib.X509_VERIFY_PARAM_set1_ip(param, packed, len(packed)) != 1:
                return None
        else:
            lib.X509_VERIFY_PARAM_set_hostflags(param, flags)
            encoded = host.encode("ascii")
            if lib.X509_VERIFY_PARAM_set1_host(param, encoded, len(encoded)) != 1:
                return None
        if lib.X509_STORE_set1_param(store, param) != 1:
            return None
        if lib.X509_STORE_CTX_init(ctx, store, x509_ptr, ffi.NULL) != 1:
            return None
        if lib.X509_verify_cert(ctx) == 1:
            return True
        return False if lib.X509_STORE_CTX_get_error(ctx) in mismatch else None
    except Exception:  # pragma: no cover - depends on pyOpenSSL internals
        return None
    finally:
        lib.X509_STORE_CTX_free(ctx)
        lib.X509_VERIFY_PARAM_free(param)
        lib.X509_STORE_free(store)


def _inside_validity(cert: x509.Certificate) -> int:
    """A moment the certificate is valid at (its middle), as a Unix time."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return int((start + (end - start) / 2 if end > start else start).timestamp())


# --------------------------------------------------------------------------- the Python port


def _python_matches(
    cert: x509.Certificate, host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
) -> bool:
    """OpenSSL's ``X509_check_host`` / ``X509_check_ip`` rules with Python's ``ssl`` flags."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    except ValueError:  # an undecodable extension: OpenSSL would not match it either
        return False
    if ip is not None:
        return san is not None and ip in san.get_values_for_type(x509.IPAddress)
    patterns = san.get_values_for_type(x509.DNSName) if san is not None else []
    if not patterns:  # the subject CN counts only without any DNS name
        patterns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return any(_pattern_matches(p, host) for p in patterns)


_LDH = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$")


def _pattern_matches(pattern: str, host: str) -> bool:
    """One DNS pattern against one A-label host (``valid_star`` + ``wildcard_match``)."""
    first, _, rest = pattern.partition(".")
    wildcard = (
        first == "*"
        and "*" not in rest
        and rest.count(".") >= 1  # at least two dots in the pattern: never *.example
        and all(_LDH.match(label) for label in rest.split("."))
    )
    if not wildcard:
        return pattern.lower() == host.lower()
    label, _, host_rest = host.partition(".")
    return (
        bool(label)
        and host_rest.lower() == rest.lower()
        and (label == "*" or re.fullmatch(r"[A-Za-z0-9-]+", label) is not None)
    )
