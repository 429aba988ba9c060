"""Helpers for the tests of ``explain``, ``verify`` and ``inspect``: read what a real server
logged since a point in time, run curl, mint CRL variants with the test PKI's CA keys."""

from __future__ import annotations

import datetime as _dt
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from servers import RealServer

from mtlscheck._pki import PKI, Issued, make_crl, write_pem


class LogCursor:
    """New text in a server's log files since the cursor was made (or last read)."""

    def __init__(self, server: RealServer) -> None:
        self.server = server
        self.pos = {p: (p.stat().st_size if p.exists() else 0) for p in server.log_files()}

    def new(self, wait: float = 1.5) -> str:
        """The new text; waits up to ``wait`` seconds for some to appear, then a moment
        for the rest: servers (Apache's workers) write the log line after the client has
        already seen the connection end."""
        import time

        until = time.monotonic() + wait
        text = self._read()
        while not text and time.monotonic() < until:
            time.sleep(0.02)
            text = self._read()
        if text:
            time.sleep(0.05)
            text += self._read()
        return text

    def _read(self) -> str:
        parts = []
        for path in self.server.log_files():
            if not path.exists():
                continue
            with path.open("rb") as fh:
                fh.seek(self.pos.get(path, 0))
                data = fh.read()
            self.pos[path] = self.pos.get(path, 0) + len(data)
            parts.append(data.decode("utf-8", "replace"))
        return "".join(parts)


def curl(
    url: str,
    *,
    cacert: Path | None,
    cert: Path | None = None,
    key: Path | None = None,
    tls: str = "1.3",
) -> tuple[int, str]:
    """curl's exit code and everything it printed (the body and its error line)."""
    args = ["curl", "-sS", "--max-time", "10"]
    args += ["--tlsv1.3"] if tls == "1.3" else ["--tlsv1.2", "--tls-max", "1.2"]
    if cacert is not None:
        args += ["--cacert", str(cacert)]
    if cert is not None:
        args += ["--cert", str(cert)]
    if key is not None:
        args += ["--key", str(key)]
    res = subprocess.run([*args, url], capture_output=True, text=True, timeout=20, check=False)
    return res.returncode, res.stdout + res.stderr


def role_args(pki: PKI, role: str, *, send_chain: bool = True) -> dict[str, Path]:
    r = pki.role(role)
    assert r.key is not None
    return {"cert": r.send_file if send_chain else r.cert, "key": r.key}


def stale_crl(issuer: Issued) -> x509.CertificateRevocationList:
    """A CRL whose nextUpdate passed yesterday (nginx then refuses every client)."""
    now = _dt.datetime.now(_dt.UTC)
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - _dt.timedelta(days=10))
        .next_update(now - _dt.timedelta(days=1))
        .sign(issuer.key, hashes.SHA256())
    )


def crl_files(pki: PKI, directory: Path) -> dict[str, Path]:
    """CRL variants for the test PKI: ``stale`` (root CRL past nextUpdate + intermediate CRL)
    and ``root-only`` (no CRL for the intermediate CA)."""
    ca, inter = pki.issued("ca"), pki.issued("intermediate-ca")
    out = {"stale": directory / "stale-crl.pem", "root-only": directory / "root-only-crl.pem"}
    write_pem(out["stale"], stale_crl(ca), make_crl(inter, []), force=True)
    write_pem(
        out["root-only"], make_crl(ca, [pki.issued("revoked").cert.serial_number]), force=True
    )
    return out
