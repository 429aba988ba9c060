"""The public entry point: :func:`check` probes one URL and returns a :class:`TargetResult`.

The CLI and the pytest plugin are thin layers over this function, so a result seen in a
terminal, in JSON or in a pytest assertion comes from the same code path.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mtlscheck._errors import InputError, UsageError
from mtlscheck._expect import ServerProfile
from mtlscheck._identity import ClientIdentity, load_certificates, load_identity
from mtlscheck._model import ProbeResult, TargetResult
from mtlscheck._probes import IdentitySources, pki_identity, resolve_identities, select_probes
from mtlscheck._runner import Plan, Target, default_expectations, run_target

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["check", "parse_versions"]


def parse_versions(tls: str | None) -> tuple[str, ...]:
    """``--tls 1.2|1.3|both`` → the versions to probe."""
    value = (tls or "both").strip().lower().removeprefix("tls").removeprefix("v")
    if value in ("both", "all", ""):
        return ("1.2", "1.3")
    if value in ("1.2", "1.3"):
        return (value,)
    raise UsageError(f"bad TLS version {tls!r}: use 1.2, 1.3 or both")


def _load_ca(
    ca_cert: Path | str | None, ca_key: Path | str | None, password: bytes | None
) -> tuple[ClientIdentity | None, x509.Certificate | None]:
    if ca_key is not None and ca_cert is None:
        raise UsageError("--ca-key needs --ca-cert")
    if ca_cert is None:
        return None, None
    if ca_key is None:  # the CA's name alone is still enough for lookalike-ca
        return None, load_certificates(ca_cert, "CA certificate")[0]
    ident = load_identity(ca_cert, ca_key, password=password)
    return ident, ident.cert


_CERTS_MARKER = ".mtlscheck-certs"


def _certs_dir(path: Path) -> Path:
    """A ``--save-certs`` directory: new, empty, or one mtlscheck wrote before.

    Minted files are rewritten on every run (so the same command can be run again), which is
    only acceptable in a directory that holds nothing else: never overwrite a user's files.
    """
    if path.exists() and not path.is_dir():
        raise InputError(f"--save-certs {path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / _CERTS_MARKER).exists():
        raise InputError(
            f"--save-certs {path} is not empty and was not written by mtlscheck: "
            "give a new or empty directory"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / _CERTS_MARKER).write_text("certificates minted by mtlscheck probe\n")
    except OSError as exc:
        raise InputError(f"cannot use --save-certs {path}: {exc.strerror or exc}") from None
    return path


def check(
    url: str,
    *,
    probes: Sequence[str] | None = None,
    cert: Path | str | None = None,
    key: Path | str | None = None,
    key_password: bytes | None = None,
    pki: Path | str | None = None,
    ca_cert: Path | str | None = None,
    ca_key: Path | str | None = None,
    identities: Mapping[str, tuple[Path | str, Path | str | None]] | None = None,
    cacert: Path | str | None = None,
    insecure: bool = False,
    servername: str | None = None,
    address: str | None = None,
    timeout: float = 10.0,
    tls: str | None = "both",
    server: str | ServerProfile = ServerProfile.GENERIC,
    expect: Mapping[str, str] | None = None,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    save_certs: Path | str | None = None,
    workers: int = 4,
    on_result: Callable[[ProbeResult], None] | None = None,
) -> TargetResult:
    """Probe ``url`` and return every probe's outcome, verdict and handshake facts.

    Raises :class:`~mtlscheck.UsageError` / :class:`~mtlscheck.InputError` for bad arguments
    or files (before any connection).  What the server does is never an exception.
    """
    try:
        profile = ServerProfile(str(server).lower())
    except ValueError:
        raise UsageError(
            f"unknown server profile {server!r}; use one of: {', '.join(ServerProfile)}"
        ) from None
    target = Target(
        url=url,
        method=method.upper(),
        headers=tuple(headers),
        cafile=None if cacert is None else Path(cacert),
        insecure=insecure,
        servername=servername,
        address=address,
        timeout=timeout,
    )
    if target.cafile is not None and not target.cafile.is_file():
        raise InputError(f"--cacert file not found: {target.cafile}")
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    names = select_probes(probes)
    versions = parse_versions(tls)

    loaded = None
    valid = load_identity(cert, key, password=key_password) if cert is not None else None
    if cert is None and key is not None:
        raise UsageError("--key needs --cert")
    ca_ident, ca_name_cert = _load_ca(ca_cert, ca_key, key_password)
    if pki is not None:
        from mtlscheck._pki import PKI

        loaded = PKI.load(pki)
        valid = valid or pki_identity(loaded, "valid")
        ca_ident = ca_ident or pki_identity(loaded, "ca")
        if target.cafile is None and not insecure:
            target = dataclasses.replace(target, cafile=loaded.ca_cert)
    overrides = {
        name: load_identity(c, k, password=key_password)
        for name, (c, k) in (identities or {}).items()
    }
    select_probes(list(overrides))  # unknown names in --identity are usage errors

    own_tmp = None
    save_dir = None if save_certs is None else _certs_dir(Path(save_certs))
    if save_dir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="mtlscheck-")
        save_dir = Path(own_tmp.name)
    try:
        src = IdentitySources(
            valid=valid,
            ca=ca_ident,
            ca_cert=ca_name_cert,
            pki=loaded,
            overrides=overrides,
            save_dir=save_dir,
        )
        plan = Plan(
            probes=names,
            identities=resolve_identities(names, src),
            expectations=default_expectations(names, profile, dict(expect or {})),
            versions=versions,
            profile=profile,
        )
        result = run_target(target, plan, workers=workers, on_result=on_result)
        if own_tmp is not None:
            return dataclasses.replace(result, certs_removed=any(save_dir.iterdir()))
        return dataclasses.replace(result, certs_dir=str(save_dir.resolve()))
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()
