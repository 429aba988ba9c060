"""Does a server certificate cover the name we connect to?  (RFC 6125 host check.)

Kept apart from :mod:`mtlscheck._tls` because the reproduce commands, the client and the
diagnosis all ask the same question and must get the same answer.
"""

from __future__ import annotations

import ipaddress

from cryptography import x509

__all__ = ["is_ip_address", "name_matches"]


def is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def name_matches(cert: x509.Certificate, name: str) -> bool:
    """RFC 6125 host check against the SAN (IP or DNS, one left-most wildcard label)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    if is_ip_address(name):
        ip = ipaddress.ip_address(name.strip("[]"))
        return ip in san.get_values_for_type(x509.IPAddress)
    host = name.rstrip(".").lower()
    for pattern in san.get_values_for_type(x509.DNSName):
        p = pattern.rstrip(".").lower()
        if p == host:
            return True
        first, _, rest = host.partition(".")
        if p.startswith("*.") and first and rest == p[2:]:
            return True
    return False
