"""Names for the numbers TLS hands us: alert codes (IANA "TLS Alerts" registry) and OpenSSL's
X509 verify error codes (what nginx prints after ``FAILED:`` in ``$ssl_client_verify``)."""

from __future__ import annotations

__all__ = ["ALERT_NAMES", "alert_name", "verify_error_string"]

ALERT_NAMES: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    111: "certificate_unobtainable",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    114: "bad_certificate_hash_value",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}


def alert_name(code: int) -> str:
    """Name of an alert code; unknown codes stay visible as ``alert_<n>``."""
    return ALERT_NAMES.get(code, f"alert_{code}")


_VERIFY_FALLBACK: dict[int, str] = {
    2: "unable to get issuer certificate",
    3: "unable to get certificate CRL",
    7: "certificate signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    22: "certificate chain too long",
    23: "certificate revoked",
    26: "unsupported certificate purpose",
    62: "hostname mismatch",
}


def verify_error_string(errno: int) -> str:
    """OpenSSL's own text for an X509 verify error (``X509_verify_cert_error_string``).

    pyOpenSSL has no public wrapper for it; use the binding when it is there and fall back to a
    short table so a binding change cannot break anything.
    """
    try:
        from OpenSSL._util import ffi, lib

        return bytes(ffi.string(lib.X509_verify_cert_error_string(errno))).decode(
            "ascii", "replace"
        )
    except Exception:  # pragma: no cover - depends on pyOpenSSL internals
        return _VERIFY_FALLBACK.get(errno, f"certificate verify error {errno}")
