"""pytest plugin (entry point ``pytest11``): mTLS checks as ordinary tests.

Fixtures: ``mtls_pki`` (session test PKI), ``mtls_server`` / ``mtls_server_factory`` (the
built-in reference mTLS server), ``mtls_probe`` (probe a URL, compare with an expectation),
``mtls_settings``.  Marker: ``@pytest.mark.mtls(target, **options)``.  Options ``--mtls-*``
(command line > environment ``MTLSCHECK_*`` > ini ``mtls_*`` > default).  Files named
``mtls*.toml`` with a ``[[targets]]`` table are collected as suites: one item per target x
probe x TLS version; other files with such a name are left alone.

pytest loads this module in every session of every project that installed mtlscheck, so it
imports nothing but the standard library and pytest: everything else (cryptography, pyOpenSSL,
httpx) is imported by the modules of :mod:`mtlscheck._pytest_support` when a fixture or a suite
file is used.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mtlscheck._options import PYTEST_OPTIONS, OptionSpec, layer, parse_text

if TYPE_CHECKING:
    from mtlscheck._pytest_support.pki import MtlsPKI
    from mtlscheck._pytest_support.probe import Prober
    from mtlscheck._pytest_support.server import MtlsServer, ServerPool

__all__ = ["OPTIONS", "Settings", "get_settings"]


OPTIONS: tuple[OptionSpec, ...] = PYTEST_OPTIONS
"""Every ``--mtls-*`` option (from :mod:`mtlscheck._options`, the one options model);
``MTLSCHECK_<NAME>`` and ini ``mtls_<name>`` mirror each."""

_SUITE_PATTERN_INI = "mtls_suite_pattern"
_DEFAULT_SUITE_PATTERN = "mtls*.toml"


@dataclass(frozen=True)
class Settings:
    """The resolved ``--mtls-*`` options: ``values[name]`` and where each came from."""

    values: dict[str, Any]
    sources: dict[str, str]
    target_list: tuple[str, ...] = ()
    """The URLs of ``--mtls-targets FILE``, read and checked once when pytest starts."""

    def get(self, name: str) -> Any:
        return self.values.get(name)

    @property
    def target(self) -> str | None:
        value = self.values.get("target")
        return None if value is None else str(value)

    def check_kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments of :func:`mtlscheck.check`."""
        return {
            k: v for k, v in self.values.items() if k not in ("target", "targets") and v is not None
        }


_SETTINGS = pytest.StashKey[Settings]()


def get_settings(config: pytest.Config) -> Settings:
    """Resolve the options once per session: command line > environment > ini > default."""
    cached = config.stash.get(_SETTINGS, None)
    if cached is not None:
        return cached
    from mtlscheck._errors import MtlscheckError

    inidir = config.inipath.parent if config.inipath is not None else config.rootpath
    cwd = config.invocation_params.dir
    # Lowest first; an empty value is no value (``MTLSCHECK_CERT=`` unsets the ini's).
    won = layer(
        [
            ({o.name: str(config.getini(o.ini)).strip() or None for o in OPTIONS}, "ini"),
            ({o.name: os.environ.get(o.env) or None for o in OPTIONS}, "env"),
            ({o.name: config.getoption("mtls_" + o.name, None) or None for o in OPTIONS}, "cli"),
        ],
        merged=frozenset(),
    )
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for opt in OPTIONS:
        if opt.name not in won:
            continue
        raw, layer_name = won[opt.name]
        source = {"cli": opt.flag, "env": opt.env, "ini": f"ini {opt.ini}"}[layer_name]
        try:
            values[opt.name] = parse_text(opt, raw, inidir if layer_name == "ini" else cwd)
        except MtlscheckError as exc:
            raise pytest.UsageError(f"{source}: {exc}") from None
        sources[opt.name] = source
    urls: tuple[str, ...] = ()
    if "targets" in values:
        urls = _read_target_list(values["targets"], sources["targets"])
    settings = Settings(values, sources, urls)
    config.stash[_SETTINGS] = settings
    return settings


def _read_target_list(path: str, source: str) -> tuple[str, ...]:
    """``--mtls-targets FILE`` the way the CLI reads ``--targets`` (one shared reader), every
    URL checked now: a typo on line 40 is a usage error at start-up, not 40 failed tests."""
    from mtlscheck._errors import MtlscheckError
    from mtlscheck._targets import read_targets  # light: the standard library only
    from mtlscheck._validate import parse_https_url

    try:
        # pytest owns stdin (capture), so '-' is refused rather than read.
        urls = read_targets(path, source, stdin=False)
    except MtlscheckError as exc:
        raise pytest.UsageError(str(exc)) from None
    for url in urls:
        try:
            parse_https_url(url)
        except MtlscheckError as exc:
            raise pytest.UsageError(f"{source} {path}: {exc}") from None
    return tuple(dict.fromkeys(urls))


# --------------------------------------------------------------------------- hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mtlscheck", "mtlscheck (mutual TLS checks)")
    for opt in OPTIONS:
        group.addoption(
            opt.flag,
            dest="mtls_" + opt.name,
            default=None,
            metavar=opt.name.upper(),
            help=f"{opt.help} Env: {opt.env}; ini: {opt.ini}.",
        )
        parser.addini(opt.ini, f"mtlscheck: {opt.help}", default="")
    parser.addini(
        _SUITE_PATTERN_INI,
        "mtlscheck: glob of suite files collected as tests (default: mtls*.toml).",
        default=_DEFAULT_SUITE_PATTERN,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mtls(target=None, *, server_mode=None, **options): the URL and check() options that "
        "mtls_probe uses in this test; server_mode (nginx, apache, optional) configures "
        "mtls_server.",
    )


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    from mtlscheck._secrets import redact_url  # light: the standard library only

    settings = get_settings(config)
    lines: list[str] = []
    if settings.target is not None:
        lines.append(
            f"mtlscheck: probing target {redact_url(settings.target)} "
            f"(from {settings.sources['target']})"
        )
    if settings.target_list:
        lines.append(
            f"mtlscheck: probing {len(settings.target_list)} targets from "
            f"{settings.values['targets']} (from {settings.sources['targets']})"
        )
    return lines or None


# A ``[[targets]]`` header or a ``targets = [...]`` key at the start of a line.
_SUITE_MARK = re.compile(
    rb"""^[ \t]*(\[\[[ \t]*["']?targets["']?[ \t]*\]\]|["']?targets["']?[ \t]*=)""", re.M
)


def _is_suite(path: Path) -> bool:
    """Only a regular, small file with a ``targets`` table is a suite.

    An application's own ``config/mtls_settings.toml`` matches the name pattern too; it must
    be left alone rather than fail the run just because mtlscheck is installed.  Devices and
    FIFOs are never opened (a FIFO would block collection).
    """
    from mtlscheck._errors import MtlscheckError
    from mtlscheck._files import read_input  # light: the standard library only

    try:
        data = read_input(path, "suite")
    except MtlscheckError:
        return False
    return _SUITE_MARK.search(data) is not None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".toml":
        return None
    pattern = str(parent.config.getini(_SUITE_PATTERN_INI) or _DEFAULT_SUITE_PATTERN)
    if not fnmatch.fnmatch(file_path.name, pattern) or not _is_suite(file_path):
        return None
    from mtlscheck._pytest_support.suite import SuiteFile

    suite_file: pytest.Collector = SuiteFile.from_parent(parent, path=file_path)
    return suite_file


def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: object, right: object
) -> list[str] | None:
    support = sys.modules.get("mtlscheck._pytest_support.result")
    if op != "==" or support is None:  # no result object can exist before it was imported
        return None
    lines: list[str] | None = support.assertrepr(left, right, config.get_verbosity())
    return lines


def pytest_report_collectionfinish(
    config: pytest.Config, start_path: Path, items: list[pytest.Item]
) -> list[str] | None:
    support = sys.modules.get("mtlscheck._pytest_support.suite")
    if support is None:
        return None
    lines: list[str] | None = support.collection_summary(items)
    return lines


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def mtls_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved ``--mtls-*`` options (``.values``, ``.sources``, ``.target``)."""
    return get_settings(pytestconfig)


@pytest.fixture(scope="session")
def mtls_pki(tmp_path_factory: pytest.TempPathFactory) -> MtlsPKI:
    """A complete throwaway test PKI (the roles of ``mtlscheck pki init``) for this session.

    Paths: ``.ca_cert``, ``.ca_key``, ``.server_cert``, ``.server_key``, ``.client_cert``,
    ``.client_key``, ``.crl``, ``.role(name)``; loaded objects: ``.issued(name)``,
    ``.certificate(name)``; more identities: ``.mint_client(subject, not_before=,
    not_after=, ekus=, issuer=)``.
    """
    from mtlscheck._pytest_support.pki import MtlsPKI

    return MtlsPKI.create(tmp_path_factory.mktemp("mtls-pki") / "pki")


@pytest.fixture
def mtls_server_factory(
    request: pytest.FixtureRequest, mtls_pki: MtlsPKI
) -> Iterator[Callable[..., MtlsServer]]:
    """``mtls_server_factory(mode="apache", **ReferenceServer options) -> MtlsServer``.

    Servers are started on 127.0.0.1 with a free port and stopped at the end of the test.
    """
    from mtlscheck._pytest_support.server import ServerFactory

    factory = ServerFactory(request.config, mtls_pki)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def _mtls_server_pool(pytestconfig: pytest.Config, mtls_pki: MtlsPKI) -> Iterator[ServerPool]:
    """The session's shared ``mtls_server`` instances (see :class:`ServerPool`)."""
    from mtlscheck._pytest_support.server import ServerPool

    pool = ServerPool(pytestconfig, mtls_pki)
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
def mtls_server(request: pytest.FixtureRequest, _mtls_server_pool: ServerPool) -> MtlsServer:
    """The built-in reference mTLS server, Apache-like by default (handshake alerts).

    Pick the behaviour with ``@pytest.mark.mtls(server_mode="nginx")`` or indirect
    parametrization ``@pytest.mark.parametrize("mtls_server", ["nginx", "apache",
    "optional"], indirect=True)`` (a dict param passes ReferenceServer options).

    One server per mode (per option set) serves the whole session, and ``.requests`` starts
    empty in every test; use ``mtls_server_factory`` for a server of the test's own.
    """
    from mtlscheck._pytest_support.server import server_options

    return _mtls_server_pool.checkout(server_options(request))


@pytest.fixture
def mtls_probe(request: pytest.FixtureRequest) -> Prober:
    """``mtls_probe([url], *probes, **check_options) -> ProbeRun`` (a ``TargetResult``).

    ``assert mtls_probe(url, "no-cert") == "rejected"`` compares every outcome with the
    expectation expression.  Without a URL it probes the ``mtls`` marker's or
    ``--mtls-target``'s target; without identity options it uses the session's ``mtls_pki``.
    """
    from mtlscheck._pytest_support.probe import Prober

    return Prober(request)


def __getattr__(name: str) -> Any:
    """``from mtlscheck.pytest_plugin import ProbeRun`` (for type hints) without eager imports."""
    if name in ("MtlsPKI", "MtlsServer", "Prober", "ProbeRun", "ProbeRuns", "MintedIdentity"):
        from mtlscheck import _pytest_support

        return getattr(_pytest_support, name)  # resolves the submodule on first use
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
