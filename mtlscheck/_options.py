"""One options model: :class:`CheckOptions`, its per-field metadata, and one layering rule.

The option set of a check used to be written out four times - ``check()``'s keyword
parameters, the ``probe`` command's flags, suite-file keys and the pytest plugin's
``--mtls-*`` options - each with its own copy of names, defaults and layering.  Now every
surface reads the metadata here (modelled on httpx's config objects: one frozen value,
``dataclasses.replace`` to derive another) and layers with :func:`layer`.

Standard library only: the pytest plugin imports this module in every pytest session.
"""

# ruff: noqa: RUF009  (``_opt`` is ``dataclasses.field`` with metadata: no shared default)

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mtlscheck._expect import ServerProfile

__all__ = [
    "FIELDS",
    "MERGED_KEYS",
    "PYTEST_OPTIONS",
    "SUITE_KEYS",
    "CheckOptions",
    "OptionSpec",
    "layer",
    "parse_text",
    "suite_layer",
]


@dataclass(frozen=True)
class OptionSpec:
    """Where one option appears: its name on each surface, and how its text is parsed."""

    name: str
    """The :class:`CheckOptions` field (and ``check()`` keyword); or a pytest-only name."""
    help: str
    cli: str | None = None
    """The ``mtlscheck probe`` flag (``--cert``), if the command has one."""
    toml: str | None = None
    """The suite-file key (``identity`` covers ``cert`` and ``key``)."""
    pytest: bool = False
    """Also a pytest option: ``--mtls-<name>``, ``MTLSCHECK_<NAME>``, ini ``mtls_<name>``."""
    kind: str = "str"
    """How text (environment, ini, command line) is parsed: see :func:`parse_text`.
    ``password-env``: the flag and the key name an environment variable holding the value."""
    suite_override: bool = False
    """With ``probe --suite``: a command-line value fills in what the file leaves unsaid
    (a connection option); otherwise the flag is refused with ``--suite``."""

    @property
    def flag(self) -> str:
        """The pytest flag (meaningful when :attr:`pytest` is set)."""
        return "--mtls-" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "MTLSCHECK_" + self.name.upper()

    @property
    def ini(self) -> str:
        return "mtls_" + self.name


def _opt(default: Any = None, **meta: Any) -> Any:
    """A dataclass field whose metadata is an :class:`OptionSpec` (name filled in below)."""
    spec = OptionSpec(name="", **meta)
    if isinstance(default, list | dict):
        raise TypeError("mutable default")
    return field(default=default, metadata={"spec": spec})


@dataclass(frozen=True)
class CheckOptions:
    """Every option of one target's check, as :func:`mtlscheck.check` takes them.

    Frozen: derive a variant with ``dataclasses.replace(opts, tls="1.3")`` (or
    :meth:`merge`).  Values are validated, and files loaded, by :func:`mtlscheck.prepare`;
    this class only holds them, so building one never fails on a value.
    """

    probes: str | Sequence[str] | None = _opt(
        help="Probes to run (comma list or repeated; 'all').", cli="--probes", toml="probes"
    )
    tls: str | None = _opt(
        "both", help="TLS versions to probe: 1.2, 1.3 or both (default).", cli="--tls",
        toml="tls", pytest=True, suite_override=True,
    )  # fmt: skip
    server: str | ServerProfile = _opt(
        "generic", help="Server profile: generic, nginx, apache, haproxy, caddy.",
        cli="--server", toml="server", pytest=True, suite_override=True,
    )  # fmt: skip
    timeout: float = _opt(
        10.0, help="Seconds per probe (default 10).", cli="--timeout", toml="timeout",
        pytest=True, kind="seconds", suite_override=True,
    )  # fmt: skip
    cert: Path | str | None = _opt(
        help="Valid client certificate (PEM/DER/.p12) for the 'valid' probe.", cli="--cert",
        toml="identity", pytest=True, kind="path",
    )  # fmt: skip
    key: Path | str | None = _opt(
        help="Its private key.", cli="--key", toml="identity", pytest=True, kind="path"
    )
    ca_cert: Path | str | None = _opt(
        help="The CA the server trusts for clients (with --mtls-ca-key).", cli="--ca-cert",
        toml="ca", pytest=True, kind="path",
    )  # fmt: skip
    ca_key: Path | str | None = _opt(
        help="That CA's key: lets mtlscheck mint expired/... certificates.", cli="--ca-key",
        toml="ca", pytest=True, kind="path",
    )  # fmt: skip
    pki: Path | str | None = _opt(
        help="A PKI directory from 'mtlscheck pki init' (identities + CA).", cli="--pki",
        toml="pki", pytest=True, kind="path",
    )  # fmt: skip
    identities: Mapping[str, tuple[Path | str, Path | str | None]] | None = _opt(
        help="NAME=CERT[,KEY]: the identity a probe presents.", cli="--identity",
        toml="identities",
    )  # fmt: skip
    expect: Mapping[str, str] | None = _opt(
        help="PROBE=EXPR: a probe's expectation.", cli="--expect", toml="expect"
    )
    cacert: Path | str | None = _opt(
        help="CA bundle to verify the server's certificate.", cli="--cacert", toml="cacert",
        pytest=True, kind="path", suite_override=True,
    )  # fmt: skip
    insecure: bool = _opt(
        False, help="Do not verify the server certificate.", cli="--insecure",
        toml="insecure", suite_override=True,
    )  # fmt: skip
    user_from_url: bool = _opt(
        False, help="Send the URL's user:password@ as HTTP Basic auth.", cli="--user-from-url",
        toml="user_from_url",
    )  # fmt: skip
    servername: str | None = _opt(
        help="SNI / certificate name to use instead of the URL host.", cli="--servername",
        toml="servername", suite_override=True,
    )  # fmt: skip
    address: str | None = _opt(
        help="Connect to this address (curl's --resolve HOST:PORT:ADDR).", cli="--resolve",
        toml="address",
    )  # fmt: skip
    method: str = _opt(
        "GET", help="HTTP method.", cli="--method", toml="method", suite_override=True
    )
    headers: Sequence[tuple[str, str]] = _opt(
        (), help="'Name: value' request headers.", cli="--header", toml="headers",
        suite_override=True,
    )  # fmt: skip
    key_password: bytes | None = _opt(
        help="Password of an encrypted key / PKCS#12 (from an environment variable).",
        cli="--key-password-env", toml="key_password_env", kind="password-env",
    )  # fmt: skip
    forged_headers: Sequence[tuple[str, str]] = _opt(
        (), help="Identity headers the forged-headers probe sends.", cli="--forged-header"
    )
    forged_headers_only: bool = _opt(
        False, help="forged-headers sends only the given ones.", cli="--forged-headers-only"
    )
    other_servername: str | None = _opt(
        help="SNI the sni-mismatch probe sends.", cli="--other-servername"
    )

    def merge(self, **changes: Any) -> CheckOptions:
        """A copy with ``changes`` on top (a keyword that is no option is a ``TypeError``,
        as it was for ``check()``'s own parameters)."""
        return dataclasses.replace(self, **changes) if changes else self

    def as_kwargs(self) -> dict[str, Any]:
        """The options as ``check()`` keyword arguments."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def of(cls, options: CheckOptions | None, changes: Mapping[str, Any]) -> CheckOptions:
        """``options`` (default: all defaults) with keyword arguments ``changes`` on top."""
        return (options or cls()).merge(**changes)


FIELDS: tuple[OptionSpec, ...] = tuple(
    dataclasses.replace(f.metadata["spec"], name=f.name) for f in dataclasses.fields(CheckOptions)
)
"""The metadata of every :class:`CheckOptions` field, in field order."""

DEFAULTS: Mapping[str, Any] = {f.name: f.default for f in dataclasses.fields(CheckOptions)}

SUITE_KEYS: tuple[str, ...] = tuple(dict.fromkeys(s.toml for s in FIELDS if s.toml))
"""Suite-file keys of the options (allowed in ``[defaults]`` and every ``[[targets]]``)."""

PYTEST_OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "target",
        "URL that mtls_probe and @pytest.mark.mtls tests probe when given no URL.",
        pytest=True,
        kind="url",
    ),
    OptionSpec(
        "targets",
        "File of URLs (one per line, '#' comments) that mtls_probe probes, all in one pool, "
        "when given no URL (with --mtls-target: that URL first).",
        pytest=True,
        kind="path",
    ),
    *(s for s in FIELDS if s.pytest),
)
"""Every pytest ``--mtls-*`` option: the run's targets, then the :class:`CheckOptions` ones."""


def suite_layer(values: Mapping[str, Any]) -> dict[str, Any]:
    """:class:`CheckOptions` values (by field name) as a suite-file layer (by suite key).

    Fields that share a key become one pair: ``cert``/``key`` -> ``identity``, ``ca_cert``/
    ``ca_key`` -> ``ca``.  A ``password-env`` field has no value a key could hold: skipped.
    """
    out: dict[str, Any] = {}
    for key in SUITE_KEYS:
        names = [s.name for s in FIELDS if s.toml == key and s.kind != "password-env"]
        if not names or all(values.get(n) is None for n in names):
            continue
        out[key] = values[names[0]] if len(names) == 1 else tuple(values.get(n) for n in names)
    return out


MERGED_KEYS = frozenset({"expect", "identities", "headers"})
"""Table-valued options: a higher layer adds to (and per key replaces) a lower one's table."""


def layer(
    layers: Iterable[tuple[Mapping[str, Any], Any]], *, merged: frozenset[str] = MERGED_KEYS
) -> dict[str, tuple[Any, Any]]:
    """The one layering rule of every surface: ``name -> (value, source)``.

    ``layers`` are ``(values, source)`` pairs, lowest first (a default, then ini, then the
    environment, then the command line; or command-line options, a suite's ``[defaults]``,
    then its target).  ``None`` means "not given here"; a given value replaces the one below
    it, except that the tables named in ``merged`` (``expect``, ``identities``, ``headers``)
    merge per key.  ``source`` is whatever the caller needs to report where a value came
    from (a flag name, a ``FILE:LINE`` key path).
    """
    out: dict[str, tuple[Any, Any]] = {}
    for values, source in layers:
        for k, v in values.items():
            if v is None:
                continue
            if k in merged and k in out:
                prev = out[k][0]
                if isinstance(prev, dict) and isinstance(v, dict):
                    v = {**prev, **v}
            out[k] = (v, source)
    return out


def parse_text(spec: OptionSpec, raw: str, base: Path) -> Any:
    """An option's value from text (environment, ini file): its ``kind`` decides.

    ``path``: relative to ``base`` (``-`` for a targets file stays as given); ``seconds``: a
    positive finite number; ``url``: an ``https://`` URL; anything else: the text.  Raises
    :class:`~mtlscheck.UsageError` with a message that does not name the source.
    """
    from mtlscheck._errors import UsageError

    if spec.kind == "path":
        if spec.name == "targets" and raw == "-":
            return raw
        p = Path(raw).expanduser()
        return str(p if p.is_absolute() else base / p)
    if spec.kind == "seconds":
        try:
            value = float(raw)
        except ValueError:
            raise UsageError(f"{spec.name} must be a number, got {raw!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise UsageError(f"{spec.name} must be positive, got {raw!r}")
        return value
    if spec.kind == "url":
        from mtlscheck._validate import parse_https_url  # light: the standard library only

        parse_https_url(raw)
    return raw
