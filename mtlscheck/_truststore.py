"""Names of the public web CAs, from the system trust store: for the ``ca-names-public`` finding.

A server that advertises public CAs as acceptable *client* CAs has (or includes) a public
trust bundle as its client CA file: every holder of a certificate from any of those CAs then
passes the TLS check.  The names are compared as RFC 4514 strings made by ``cryptography``,
exactly as :mod:`mtlscheck._tls` records the advertised names.

Read once per process, lazily (only when a server advertised names at all).
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
import threading
import warnings
from pathlib import Path

from cryptography import x509

__all__ = ["public_ca_names", "system_bundle"]


def system_bundle() -> Path | None:
    """The system's CA bundle file (``SSL_CERT_FILE`` honoured), if there is one."""
    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get(paths.openssl_cafile_env), paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


_LOCK = threading.Lock()


def public_ca_names() -> frozenset[str]:
    """Subject names (RFC 4514) of every CA in the system trust store; empty without one.

    Loaded once, under a lock: probes ask from many threads at once, and
    ``warnings.catch_warnings`` (which silences cryptography's complaint about old roots) is
    process-wide state that concurrent callers would undo for each other."""
    with _LOCK:
        return _public_ca_names()


@functools.lru_cache(maxsize=1)
def _public_ca_names() -> frozenset[str]:
    bundle = system_bundle()
    if bundle is None:
        return frozenset()
    with contextlib.suppress(OSError, ValueError), warnings.catch_warnings():
        # Old roots in the bundle carry negative serials: cryptography warns, we only read names.
        warnings.simplefilter("ignore")
        certs = x509.load_pem_x509_certificates(bundle.read_bytes())
        return frozenset(c.subject.rfc4514_string() for c in certs)
    return frozenset()
