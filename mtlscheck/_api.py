"""The public entry point: :func:`check` probes one URL and returns a :class:`TargetResult`.

The CLI and the pytest plugin are thin layers over this function, so a result seen in a
terminal, in JSON or in a pytest assertion comes from the same code path.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtlscheck import _write
from mtlscheck._errors import InputError, UsageError
from mtlscheck._expect import ServerProfile
from mtlscheck._identity import ClientIdentity, load_certificates, load_identity
from mtlscheck._model import ProbeResult, RunResult, TargetResult, slim_target
from mtlscheck._options import CheckOptions
from mtlscheck._probes import (
    IdentitySources,
    RequestOptions,
    Skip,
    pki_identity,
    resolve_identities,
    select_probes,
)
from mtlscheck._runner import Plan, Target, default_expectations

if TYPE_CHECKING:
    from cryptography import x509

    from mtlscheck._expect import Expectation
    from mtlscheck._pki import PKI

__all__ = ["Prepared", "check", "check_many", "parse_versions", "prepare", "run_many"]


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
_CERTS_SET = re.compile(r"set[0-9]+")
"""Subdirectories for the certificates of a second, third ... option set (suites)."""


def _certs_dir(path: Path) -> Path:
    """A ``--save-certs`` directory: new (made 0700), empty, or one mtlscheck wrote before.

    Minted files are rewritten on every run (so the same command can be run again), which is
    only acceptable in a directory that holds nothing else: never overwrite a user's files.
    The directory must be a real one of ours, and hold nothing but regular files: a link in it
    (``expired.pem -> ~/.bashrc``) is how another user of a shared directory would make us
    overwrite a file of theirs choosing, so it is refused, never followed.
    """
    import os

    from mtlscheck._write import private_dir, write_new

    opt = "--save-certs"
    path = private_dir(path, opt)
    try:
        entries = list(os.scandir(path))
    except OSError as exc:
        raise InputError(f"cannot use {opt} {path}: {exc.strerror or exc}") from None
    names = {e.name for e in entries}
    if names and _CERTS_MARKER not in names:
        raise InputError(
            f"{opt} {path} is not empty and was not written by mtlscheck: "
            "give a new or empty directory"
        )
    for entry in entries:
        if entry.is_symlink():
            raise InputError(f"{opt} {path}: {entry.name} is a symbolic link; refusing to use it")
        if entry.is_file(follow_symlinks=False):
            continue
        if not (_CERTS_SET.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False)):
            raise InputError(
                f"{opt} {path}: {entry.name} is not a regular file; refusing to use it"
            )
    if _CERTS_MARKER not in names:
        write_new(path / _CERTS_MARKER, b"certificates minted by mtlscheck probe\n", mode=0o644)
    return path


@dataclass(frozen=True)
class Prepared:
    """A :func:`check` call with every argument validated and every input file loaded.

    Made by :func:`prepare` without connecting anywhere or minting anything, so a suite can
    validate all its targets (identities included) before the first probe.
    """

    target: Target
    profile: ServerProfile
    probes: tuple[str, ...]
    versions: tuple[str, ...]
    expectations: Mapping[str, Expectation]
    valid: ClientIdentity | None
    ca: ClientIdentity | None
    ca_cert: x509.Certificate | None
    pki: PKI | None
    overrides: Mapping[str, ClientIdentity]
    request_options: RequestOptions
    """Identity headers (``forged-headers``) and the other servername (``sni-mismatch``)."""


def _check_cacert(path: Path) -> None:
    """``--cacert`` must be a PEM bundle with at least one certificate: an empty or garbage
    file would otherwise make every probe fail as "server certificate untrusted"."""
    from cryptography import x509

    from mtlscheck._files import read_input

    data = read_input(path, "--cacert CA bundle")
    if b"-----BEGIN CERTIFICATE-----" not in data and b"-----BEGIN TRUSTED CERTIFICATE" not in data:
        raise InputError(f"--cacert {path} holds no PEM certificate (a CA bundle is PEM)")
    try:
        x509.load_pem_x509_certificates(data)
    except (ValueError, x509.InvalidVersion) as exc:
        raise InputError(f"--cacert {path}: cannot parse certificate: {exc}") from None


def _profile(server: str | ServerProfile) -> ServerProfile:
    try:
        return ServerProfile(str(server).strip().lower())
    except ValueError:
        from mtlscheck._validate import closest

        names = [p.value for p in ServerProfile]
        raise UsageError(
            f"unknown server profile {server!r}{closest(str(server).lower(), names)}"
            f"; use one of: {', '.join(names)}"
        ) from None


def _check_url(url: str, o: CheckOptions) -> None:
    from mtlscheck._secrets import has_userinfo
    from mtlscheck._validate import parse_https_url

    parse_https_url(url)
    if has_userinfo(url) and not o.user_from_url:
        # Never echo the URL here: it holds the password.
        raise UsageError(
            "the URL carries credentials (user[:password]@host); they would be sent as HTTP "
            "Basic auth: pass --user-from-url (check(user_from_url=True)) if that is meant"
        )


def _for_url(prep: Prepared, url: str, o: CheckOptions) -> Prepared:
    """``prepare(url, options=o)`` for options already prepared for another URL: only the URL
    is new, so no file is read again (a 10,000-URL fleet loads its PKI once)."""
    _check_url(url, o)
    return dataclasses.replace(prep, target=dataclasses.replace(prep.target, url=url))


def prepare(url: str, *, options: CheckOptions | None = None, **kwargs: Any) -> Prepared:
    """Validate the arguments of :func:`check` and load its files; raise on the first problem.

    Raises :class:`~mtlscheck.UsageError` / :class:`~mtlscheck.InputError` (one line each);
    never connects, never writes a file.  ``kwargs`` are :class:`CheckOptions` fields, on
    top of ``options``.
    """
    o = CheckOptions.of(options, kwargs)
    _check_url(url, o)  # first: every other check may assume a well-formed URL string
    profile = _profile(o.server)
    from mtlscheck._validate import check_method

    target = Target(
        url=url,
        method=check_method(o.method),
        headers=tuple(o.headers),
        cafile=None if o.cacert is None else Path(o.cacert),
        insecure=o.insecure,
        servername=o.servername,
        address=o.address,
        timeout=o.timeout,
    )
    names = select_probes(o.probes)
    versions = parse_versions(o.tls)
    expectations = default_expectations(names, profile, dict(o.expect or {}))
    if o.cert is None and o.key is not None:
        raise UsageError("--key needs --cert")
    if target.cafile is not None:
        _check_cacert(target.cafile)

    loaded = None
    valid = load_identity(o.cert, o.key, password=o.key_password) if o.cert is not None else None
    ca_ident, ca_name_cert = _load_ca(o.ca_cert, o.ca_key, o.key_password)
    if o.pki is not None:
        from mtlscheck._pki import PKI

        loaded = PKI.load(o.pki)
        valid = valid or pki_identity(loaded, "valid")
        ca_ident = ca_ident or pki_identity(loaded, "ca")
        if target.cafile is None and not o.insecure:
            target = dataclasses.replace(target, cafile=loaded.ca_cert)
    if o.identities:
        select_probes(list(o.identities))  # unknown names in --identity are usage errors
    overrides = {
        name: load_identity(
            c, k, password=o.key_password, key_hint=f"give its key as {name}=CERT,KEY"
        )
        for name, (c, k) in (o.identities or {}).items()
    }
    return Prepared(
        target=target,
        profile=profile,
        probes=names,
        versions=versions,
        expectations=expectations,
        valid=valid,
        ca=ca_ident,
        ca_cert=ca_name_cert,
        pki=loaded,
        overrides=overrides,
        request_options=_request_options(
            o.forged_headers, o.forged_headers_only, o.other_servername
        ),
    )


def _request_options(
    forged: Sequence[tuple[str, str]], only: bool, other_servername: str | None
) -> RequestOptions:
    """``--forged-header`` (added to the default identity headers, or replacing them with
    ``--forged-headers-only``) and ``--other-servername``, validated like ``-H`` and
    ``--servername``."""
    from mtlscheck import _validate as v
    from mtlscheck._probes import DEFAULT_IDENTITY_HEADERS

    given = tuple((str(k), str(val)) for k, val in forged)
    for name, value in given:
        v.check_header(name, value)
    if only and not given:
        raise UsageError("--forged-headers-only needs at least one --forged-header 'Name: value'")
    if other_servername is not None:
        v.check_hostname(other_servername, "--other-servername")
    names = {k.lower() for k, _ in given}
    base = () if only else tuple(h for h in DEFAULT_IDENTITY_HEADERS if h[0].lower() not in names)
    return RequestOptions(identity_headers=(*base, *given), other_servername=other_servername)


def _seconds(value: float, flag: str) -> float:
    """A positive, finite number of seconds (``nan``/``inf``/negatives are usage errors)."""
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{flag} must be a positive number of seconds, not {value!r}")
    return float(value)


def check(
    url: str,
    *,
    options: CheckOptions | None = None,
    save_certs: Path | str | None = None,
    workers: int = 4,
    on_result: Callable[[ProbeResult], None] | None = None,
    deadline: float | None = None,
    **kwargs: Any,
) -> TargetResult:
    """Probe ``url`` and return every probe's outcome, verdict and handshake facts.

    The options are :class:`~mtlscheck.CheckOptions` fields: as ``options=``, as keyword
    arguments (``check(url, pki="./pki", tls="1.3")``), or both (the keywords win).

    ``timeout`` bounds each probe, from DNS to the last byte; ``deadline`` (seconds) bounds the
    whole call: probes still running then end as timeouts.

    Raises :class:`~mtlscheck.UsageError` / :class:`~mtlscheck.InputError` for bad arguments
    or files (before any connection: see :func:`prepare`).  What the server does is never an
    exception.

    ``user_from_url=True`` sends a URL's ``user:password@`` as HTTP Basic auth; without it
    such a URL is refused, so credentials are never sent by accident.  Reports and printed
    commands never show them (see :mod:`mtlscheck._secrets`).
    """
    run = check_many(
        [url],
        options=options,
        concurrency=workers,
        per_host=workers,
        deadline=deadline,
        save_certs=save_certs,
        on_result=on_result,
        **kwargs,
    )
    return run.targets[0]


def check_many(
    urls: Sequence[str],
    *,
    concurrency: int | None = None,
    per_host: int | None = None,
    deadline: float | None = None,
    save_certs: Path | str | None = None,
    on_result: Callable[[ProbeResult], None] | None = None,
    on_target: Callable[[TargetResult], None] | None = None,
    target_sink: Callable[[int, TargetResult], None] | None = None,
    options: CheckOptions | None = None,
    **kwargs: Any,
) -> RunResult:
    """Probe every URL with the same options (those of :func:`check`) in one bounded pool.

    Every argument is validated and every file loaded once, before the first connection;
    certificates are minted once and presented to every target.  ``concurrency`` bounds the
    probes in flight, ``per_host`` those against one host:port, ``deadline`` (seconds) the
    whole run.  ``on_target`` gets each target's result as soon as it is complete;
    ``target_sink`` too, with its index, and the run then keeps only slim copies (see
    :func:`run_many`).
    """
    if isinstance(urls, str) or not urls:
        raise UsageError("give at least one URL (a list of https:// URLs)")
    opts = CheckOptions.of(options, kwargs)  # a bad keyword fails here, before any probe
    return run_many(
        [(u, opts) for u in urls],
        concurrency=concurrency,
        per_host=per_host,
        deadline=deadline,
        save_certs=save_certs,
        on_result=on_result,
        on_target=on_target,
        target_sink=target_sink,
    )


def _options_key(options: CheckOptions) -> str:
    """Targets with equal options share one plan (one set of minted certificates)."""
    return repr(options)


def run_many(
    specs: Sequence[tuple[str, CheckOptions | Mapping[str, Any]]],
    *,
    concurrency: int | None = None,
    per_host: int | None = None,
    deadline: float | None = None,
    save_certs: Path | str | None = None,
    on_result: Callable[[ProbeResult], None] | None = None,
    on_target: Callable[[TargetResult], None] | None = None,
    target_sink: Callable[[int, TargetResult], None] | None = None,
) -> RunResult:
    """Probe ``(url, options)`` pairs - each with the options of :func:`check` - in one pool.

    ``target_sink(index, result)`` receives each finished target with its position in
    ``specs``; the returned :class:`RunResult` then keeps only slim copies (no handshake
    details, no commands: :func:`mtlscheck._model.slim_target`), so a reporter that writes
    targets as they come bounds the memory of a large fleet.

    The engine of :func:`check_many` and of suite files: every pair is validated and its
    files loaded before the first connection; pairs with equal options share their minted
    certificates.
    """
    from mtlscheck._fleet import DEFAULT_CONCURRENCY, DEFAULT_PER_HOST, run_fleet
    from mtlscheck._revocation import annotate

    given = [(u, o if isinstance(o, CheckOptions) else CheckOptions(**o)) for u, o in specs]
    first: dict[str, Prepared] = {}
    preps: list[Prepared] = []
    for url, opts in given:
        key = _options_key(opts)
        if key in first:
            preps.append(_for_url(first[key], url, opts))
        else:
            preps.append(first.setdefault(key, prepare(url, options=opts)))
    run_deadline = None if deadline is None else time.monotonic() + _seconds(deadline, "--deadline")
    conc = DEFAULT_CONCURRENCY if concurrency is None else _count(concurrency, "--concurrency")
    host_cap = DEFAULT_PER_HOST if per_host is None else _count(per_host, "--per-host")
    own_tmp = None
    save_dir = None if save_certs is None else _certs_dir(Path(save_certs))
    if save_dir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="mtlscheck-")
        save_dir = Path(own_tmp.name)
        _write.track_path(save_dir)  # a SIGTERM handler removes it at once (see _cli)
    try:
        plans: dict[str, tuple[Plan, Prepared]] = {}
        items: list[tuple[Target, Plan]] = []
        for (_url, opts), prep in zip(given, preps, strict=True):
            key = _options_key(opts)
            if key not in plans:
                where = save_dir if not plans else save_dir / f"set{len(plans) + 1}"
                if where != save_dir:
                    _write.private_dir(where, "--save-certs")  # 0700; a rerun reuses it
                src = IdentitySources(
                    valid=prep.valid,
                    ca=prep.ca,
                    ca_cert=prep.ca_cert,
                    pki=prep.pki,
                    overrides=prep.overrides,
                    save_dir=where,
                )
                probes, identities, expectations = _default_plus_buildable(
                    prep, src, defaulted=opts.probes is None, expect=opts.expect
                )
                plan = Plan(
                    probes=probes,
                    identities=identities,
                    expectations=expectations,
                    versions=prep.versions,
                    profile=prep.profile,
                    request_options=prep.request_options,
                )
                plans[key] = (plan, prep)
            items.append((prep.target, plans[key][0]))
        chosen = [plans[_options_key(o)] for _u, o in given]

        def finish(t: TargetResult, i: int) -> TargetResult:
            # The revoked probe's result says whether revocation was enforced and what could
            # have done it (CRL, OCSP URL): that needs the identity, known here.
            plan, prep = chosen[i]
            return annotate(t, plan.identities, prep.pki)

        # Known before the first probe: where minted certificates live, or that they will
        # be gone (a target handed to ``target_sink`` is final when it is handed over).
        marks: dict[str, Any] = (
            {"certs_removed": any(save_dir.iterdir())}
            if own_tmp is not None
            else {"certs_dir": str(save_dir.resolve())}
        )

        def keep(i: int, t: TargetResult) -> TargetResult:
            full = dataclasses.replace(finish(t, i), **marks)
            if on_target is not None:
                on_target(full)
            if target_sink is None:
                return full
            target_sink(i, full)
            return slim_target(full)

        results = run_fleet(
            items,
            concurrency=conc,
            per_host=host_cap,
            deadline=run_deadline,
            on_result=on_result,
            retain=keep,
        )
        return RunResult(tuple(results))
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()
            _write.untrack_path(save_dir)


def _default_plus_buildable(
    prep: Prepared, src: IdentitySources, *, defaulted: bool, expect: Mapping[str, str] | None
) -> tuple[tuple[str, ...], dict[str, ClientIdentity | Skip | None], Mapping[str, Expectation]]:
    """The probes to run: those asked for, or - when none were named - the default four plus
    every other certificate probe that the given material can build.

    Why: a smoke check run with ``--pki`` (which holds a revoked client and the CRL) used to
    pass a server without ``ssl_crl`` with exit 0, because ``revoked`` is not among the four
    and nothing said so.  A probe the user's material allows is a probe the user expects to
    be tried.  Probes that change the request (forged headers, another SNI, plain HTTP) stay
    opt-in (``--probes all``); probes with no material are simply not added.
    """
    from mtlscheck._probes import CATALOGUE, RequestSpec

    identities = resolve_identities(prep.probes, src)
    if not defaulted:
        return prep.probes, identities, prep.expectations
    extra = [
        spec.name
        for spec in CATALOGUE.values()
        if spec.name not in prep.probes
        and not spec.no_certificate
        and spec.request == RequestSpec()
    ]
    found = resolve_identities(extra, src)
    added = tuple(name for name in extra if not isinstance(found[name], Skip))
    if not added:
        return prep.probes, identities, prep.expectations
    identities.update({name: found[name] for name in added})
    expectations = dict(prep.expectations)
    expectations.update(default_expectations(added, prep.profile, dict(expect or {})))
    return (*prep.probes, *added), identities, expectations


def _count(value: int, flag: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{flag} must be a whole number of at least 1, not {value!r}")
    return value
