"""Suite files: several targets, their identities and expectations in one TOML file.

The same file runs from the command line (``mtlscheck probe --suite mtls_staging.toml``) and,
named ``mtls*.toml``, as pytest items (one per target x probe x TLS version).  The format is
specified in ``docs/pytest.md`` ("Suite file format"); in short::

    [defaults]                       # optional: options every target inherits
    server = "nginx"                 # server profile: what "rejected" means by default
    tls = "both"                     # "1.2", "1.3", "both" or ["1.2", "1.3"]
    probes = ["no-cert", "valid", "expired", "wrong-ca"]

    [identities.ops]                 # optional: named certificate (+ key) pairs
    cert = "certs/ops.pem"           # paths are relative to the suite file
    key = "certs/ops.key"

    [[targets]]
    name = "api.internal"            # default: the URL's host
    url = "https://api.internal:8443/health"
    identity = "ops"                 # the valid client identity (a name or {cert=, key=})
    ca = { cert = "ca.pem", key = "ca.key" }   # lets mtlscheck mint expired/... certificates
    expect = { expired = "400" }     # per-probe expectations (merged over [defaults].expect)

Parsing never touches the network and never raises anything but
:class:`~mtlscheck._errors.InputError`, whose message is one line starting ``FILE:LINE:``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mtlscheck._errors import InputError, MtlscheckError

if TYPE_CHECKING:
    from mtlscheck._model import ProbeResult, RunResult, TargetResult

__all__ = [
    "OPTION_KEYS",
    "Suite",
    "SuiteTarget",
    "load_suite",
    "parse_suite",
    "run_suite",
]

_PATH_KEYS = frozenset({"pki", "cacert"})
_STR_KEYS = frozenset({"server", "servername", "address", "method", "key_password_env"})
OPTION_KEYS: tuple[str, ...] = (
    "probes",
    "tls",
    "server",
    "timeout",
    "identity",
    "ca",
    "pki",
    "identities",
    "expect",
    "cacert",
    "insecure",
    "servername",
    "address",
    "method",
    "headers",
    "key_password_env",
)
"""Keys allowed in ``[defaults]`` and in every ``[[targets]]`` entry (plus ``name``/``url``)."""
_TARGET_ONLY = ("name", "url")
_IDENTITY_KEYS = ("cert", "key")
_TOP_KEYS = ("version", "defaults", "identities", "targets")
_VERSIONS = ("1.2", "1.3")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class SuiteTarget:
    """One ``[[targets]]`` entry, resolved: its probes, TLS versions and :func:`check` options."""

    name: str
    url: str
    probes: tuple[str, ...]
    versions: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments for :func:`mtlscheck.check` (paths already absolute)."""
    line: int | None = None
    """Line of the ``[[targets]]`` header in the suite file (for error messages)."""

    @property
    def probe_names(self) -> tuple[str, ...]:
        """``expired[tls1.3]``-style ids of every probe x version, in run order."""
        return tuple(f"{p}[tls{v}]" for p in self.probes for v in self.versions)

    def run(
        self,
        *,
        on_result: Callable[[ProbeResult], None] | None = None,
        deadline: float | None = None,
    ) -> TargetResult:
        """Probe this target (every probe x version) with :func:`mtlscheck.check`."""
        from mtlscheck._api import check

        opts = dict(self.options)
        env = opts.pop("key_password_env", None)
        if env is not None:
            if env not in os.environ:
                raise InputError(
                    f"target {self.name}: key_password_env: environment variable {env} is not set"
                )
            opts["key_password"] = os.environ[env].encode()
        tls = "both" if len(self.versions) > 1 else self.versions[0]
        return check(
            self.url, probes=self.probes, tls=tls, on_result=on_result, deadline=deadline, **opts
        )


@dataclass(frozen=True)
class Suite:
    path: Path
    targets: tuple[SuiteTarget, ...]

    def target(self, name: str) -> SuiteTarget:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)


def load_suite(path: Path | str, *, defaults: Mapping[str, Any] | None = None) -> Suite:
    """Read and validate a suite file.

    ``defaults`` are option values below the file's own ``[defaults]`` (the pytest plugin
    passes its ``--mtls-*`` options here); relative paths in them are taken as given.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"suite file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read suite file {p}: {getattr(exc, 'strerror', exc)}") from None
    return parse_suite(text, p, defaults=defaults)


def parse_suite(text: str, path: Path | str, *, defaults: Mapping[str, Any] | None = None) -> Suite:
    """Parse suite ``text`` (read from ``path``, which anchors relative paths and messages)."""
    return _Parser(text, Path(path)).parse(defaults or {})


def run_suite(
    suite: Suite,
    *,
    on_result: Callable[[ProbeResult], None] | None = None,
    deadline: float | None = None,
) -> RunResult:
    """Run every target of ``suite`` in file order; one :class:`TargetResult` per target.

    ``deadline`` (seconds) bounds the whole run: targets reached after it get what is left
    (at least a moment, so each still reports its probes as timeouts instead of vanishing).
    """
    import time

    from mtlscheck._model import RunResult

    end = None if deadline is None else time.monotonic() + deadline
    return RunResult(
        tuple(
            t.run(
                on_result=on_result,
                deadline=None if end is None else max(0.001, end - time.monotonic()),
            )
            for t in suite.targets
        )
    )


# --------------------------------------------------------------------------- parsing


class _Parser:
    def __init__(self, text: str, path: Path) -> None:
        self.text = text
        self.path = path
        self.base = path.parent.absolute()
        self.lines = text.splitlines()

    # -- locations ---------------------------------------------------------------------------

    def _section_lines(self, header: str) -> list[int]:
        """0-based line numbers of ``[header]`` / ``[[header]]`` lines."""
        pat = re.compile(r"^\s*\[\[?\s*" + re.escape(header) + r"\s*\]\]?\s*(#.*)?$")
        return [i for i, line in enumerate(self.lines) if pat.match(line)]

    def _line(self, where: tuple[str | int, ...]) -> int | None:
        """Best-effort 1-based line of a key path like ``("targets", 1, "expect", "expired")``."""
        if not where:
            return None
        head = str(where[0])
        start, end = 0, len(self.lines)
        rest = where[1:]
        if head == "targets":
            starts = self._section_lines("targets")
            idx = rest[0] if rest and isinstance(rest[0], int) else 0
            if idx < len(starts):
                start = starts[idx]
                end = starts[idx + 1] if idx + 1 < len(starts) else len(self.lines)
            rest = rest[1:] if rest and isinstance(rest[0], int) else rest
            found = start + 1
        else:
            secs = self._section_lines(head)
            if secs:
                start = secs[0]
            found = start + 1
            if not secs and not rest:
                found = self._key_line(head, 0, end) or 1
        for key in rest:
            hit = self._key_line(str(key), start, end)
            if hit is None:
                break
            found = hit
            start = hit - 1
        return found

    def _key_line(self, key: str, start: int, end: int) -> int | None:
        pat = re.compile(r"""(^|[\s{,.\[])["']?""" + re.escape(key) + r"""["']?\s*(=|\]|\.)""")
        for i in range(start, min(end, len(self.lines))):
            if pat.search(self.lines[i].split("#", 1)[0]):
                return i + 1
        return None

    def error(self, where: tuple[str | int, ...], message: str) -> InputError:
        line = self._line(where)
        loc = f"{self.path}:{line}" if line else str(self.path)
        return InputError(f"{loc}: {message}")

    # -- values ------------------------------------------------------------------------------

    def _expand(self, value: str, where: tuple[str | int, ...]) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise self.error(where, f"environment variable {name} is not set")
            return os.environ[name]

        return _ENV.sub(sub, value)

    def _str(self, value: Any, where: tuple[str | int, ...], what: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(where, f"{what} must be a non-empty string, got {value!r}")
        return self._expand(value.strip(), where)

    def _path(self, value: Any, where: tuple[str | int, ...], what: str) -> str:
        raw = self._str(value, where, what)
        p = Path(raw).expanduser()
        p = p if p.is_absolute() else self.base / p
        if not p.exists():
            raise self.error(where, f"{what}: {p} does not exist")
        return str(p)

    def _table(self, value: Any, where: tuple[str | int, ...], what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where, f"{what} must be a table, got {type(value).__name__}")
        return value

    def _identity(
        self,
        value: Any,
        where: tuple[str | int, ...],
        named: Mapping[str, tuple[str, str | None]],
        *,
        key_required: bool = False,
    ) -> tuple[str, str | None]:
        if isinstance(value, str):
            name = value.strip()
            if name not in named:
                known = ", ".join(named) or "none defined"
                raise self.error(where, f"unknown identity {name!r} (known: {known})")
            cert, key = named[name]
        else:
            tbl = self._table(value, where, "an identity")
            self._known(tbl, _IDENTITY_KEYS, where, "an identity")
            if "cert" not in tbl:
                raise self.error(where, "an identity needs 'cert'")
            cert = self._path(tbl["cert"], (*where, "cert"), "cert")
            key = self._path(tbl["key"], (*where, "key"), "key") if "key" in tbl else None
        if key_required and key is None:
            raise self.error(where, "this identity needs a 'key'")
        return cert, key

    def _known(
        self, tbl: Mapping[str, Any], keys: Sequence[str], where: tuple[str | int, ...], what: str
    ) -> None:
        for k in tbl:
            if k not in keys:
                raise self.error(
                    (*where, k), f"unknown key {k!r} in {what} (known: {', '.join(keys)})"
                )

    # -- the document ------------------------------------------------------------------------

    def parse(self, outer: Mapping[str, Any]) -> Suite:
        try:
            doc = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            msg = str(exc)
            m = re.search(r"\(at line (\d+), column \d+\)", msg)
            if m:
                bare = msg[: m.start()].strip()
                raise InputError(f"{self.path}:{m.group(1)}: invalid TOML: {bare}") from None
            raise InputError(f"{self.path}: invalid TOML: {msg}") from None
        self._known(doc, _TOP_KEYS, (), "the suite file")
        version = doc.get("version", 1)
        if version != 1:
            raise self.error(("version",), f"unsupported suite version {version!r} (use 1)")

        named: dict[str, tuple[str, str | None]] = {}
        for name, value in self._table(
            doc.get("identities", {}), ("identities",), "[identities]"
        ).items():
            named[name] = self._identity(value, ("identities", name), {})

        base = self._table(doc.get("defaults", {}), ("defaults",), "[defaults]")
        self._known(base, OPTION_KEYS, ("defaults",), "[defaults]")

        raw_targets = doc.get("targets")
        if raw_targets is None:
            raise InputError(f"{self.path}: no targets: add at least one [[targets]] with a url")
        if not isinstance(raw_targets, list) or not all(isinstance(t, dict) for t in raw_targets):
            raise self.error(("targets",), "targets must be written as [[targets]] tables")
        targets: list[SuiteTarget] = []
        seen: dict[str, int] = {}
        for i, entry in enumerate(raw_targets):
            t = self._target(i, entry, base, outer, named)
            if t.name in seen:
                raise self.error(
                    ("targets", i, "name"),
                    f"duplicate target name {t.name!r} (also target #{seen[t.name] + 1}); "
                    "give each a distinct 'name'",
                )
            seen[t.name] = i
            targets.append(t)
        if not targets:
            raise InputError(f"{self.path}: no targets: add at least one [[targets]] with a url")
        return Suite(self.path, tuple(targets))

    def _target(
        self,
        i: int,
        entry: dict[str, Any],
        base: Mapping[str, Any],
        outer: Mapping[str, Any],
        named: Mapping[str, tuple[str, str | None]],
    ) -> SuiteTarget:
        at: tuple[str | int, ...] = ("targets", i)
        self._known(entry, (*_TARGET_ONLY, *OPTION_KEYS), at, f"target #{i + 1}")
        if "url" not in entry:
            raise self.error(at, f"target #{i + 1} has no 'url'")
        url = self._str(entry["url"], (*at, "url"), "url")
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise self.error((*at, "url"), f"url must be https://HOST[:PORT]/..., got {url!r}")
        if "name" in entry:
            name = self._str(entry["name"], (*at, "name"), "name")
            if "::" in name or "/" in name:
                raise self.error((*at, "name"), f"target name {name!r} may not contain :: or /")
        else:
            name = parts.hostname

        # Layers, lowest first: plugin/CLI defaults, [defaults], the target itself.
        merged: dict[str, tuple[Any, tuple[str | int, ...] | None]] = {}
        for k, v in outer.items():
            if v is not None:
                merged[k] = (v, None)
        for layer, where in ((base, ("defaults",)), (entry, at)):
            for k, v in layer.items():
                if k in ("expect", "identities", "headers") and k in merged:
                    prev = merged[k][0]
                    if isinstance(prev, dict) and isinstance(v, dict):
                        v = {**prev, **v}
                merged[k] = (v, (*where, k))

        opts: dict[str, Any] = {}
        probes: tuple[str, ...] = ()
        versions: tuple[str, ...] = _VERSIONS
        for k, (v, src) in merged.items():
            w: tuple[str | int, ...] = src if src is not None else at
            trusted = src is None  # from the plugin/CLI: already validated and resolved
            if k == "probes":
                probes = self._probes(v, w)
            elif k == "tls":
                versions = self._versions(v, w)
            elif k == "timeout":
                if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                    raise self.error(w, f"timeout must be a positive number, got {v!r}")
                opts["timeout"] = float(v)
            elif k == "insecure":
                if not isinstance(v, bool):
                    raise self.error(w, f"insecure must be true or false, got {v!r}")
                opts["insecure"] = v
            elif k in _PATH_KEYS:
                opts[k] = str(v) if trusted else self._path(v, w, k)
            elif k in _STR_KEYS:
                opts[k] = self._str(v, w, k)
            elif k == "identity":
                if trusted:
                    opts["cert"], opts["key"] = v
                else:
                    opts["cert"], opts["key"] = self._identity(v, w, named)
            elif k == "ca":
                if trusted:
                    opts["ca_cert"], opts["ca_key"] = v
                else:
                    opts["ca_cert"], opts["ca_key"] = self._identity(v, w, named)
            elif k == "identities":
                tbl = self._table(v, w, "identities")
                opts["identities"] = {
                    p: self._identity(val, (*w, p), named) for p, val in tbl.items()
                }
                self._probes(list(tbl), w)
            elif k == "expect":
                opts["expect"] = self._expect(v, w)
            elif k == "headers":
                tbl = self._table(v, w, "headers")
                opts["headers"] = tuple(
                    (str(h), self._str(val, (*w, h), f"header {h}")) for h, val in tbl.items()
                )
        if not probes:
            from mtlscheck._probes import DEFAULT_PROBES

            probes = DEFAULT_PROBES
        if "server" in opts:
            from mtlscheck._expect import ServerProfile

            if opts["server"].lower() not in tuple(ServerProfile):
                raise self.error(
                    merged["server"][1] or at,
                    f"unknown server profile {opts['server']!r}; "
                    f"use one of: {', '.join(ServerProfile)}",
                )
        line = self._line(at)
        return SuiteTarget(name, url, probes, versions, opts, line)

    def _probes(self, value: Any, where: tuple[str | int, ...]) -> tuple[str, ...]:
        from mtlscheck._probes import select_probes

        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise self.error(where, f"probes must be a list of probe names, got {value!r}")
        try:
            return select_probes(items)
        except MtlscheckError as exc:
            raise self.error(where, str(exc)) from None

    def _versions(self, value: Any, where: tuple[str | int, ...]) -> tuple[str, ...]:
        items = [value] if isinstance(value, str | int | float) else value
        if not isinstance(items, list) or not items:
            raise self.error(where, f"tls must be '1.2', '1.3', 'both' or a list, got {value!r}")
        from mtlscheck._api import parse_versions

        out: list[str] = []
        for item in items:
            try:  # the one parser --tls uses; a bare 1.3 in TOML is a float
                out.extend(parse_versions(str(item)))
            except MtlscheckError as exc:
                raise self.error(where, str(exc)) from None
        return tuple(v for v in _VERSIONS if v in out)

    def _expect(self, value: Any, where: tuple[str | int, ...]) -> dict[str, str]:
        from mtlscheck._expect import Expectation
        from mtlscheck._probes import CATALOGUE

        tbl = self._table(value, where, "expect")
        out: dict[str, str] = {}
        for probe, expr in tbl.items():
            w = (*where, probe)
            if probe not in CATALOGUE:
                raise self.error(
                    w, f"expect names unknown probe {probe!r}; known: {', '.join(CATALOGUE)}"
                )
            if not isinstance(expr, str | int):
                raise self.error(w, f"expectation for {probe} must be a string, got {expr!r}")
            try:
                out[probe] = str(Expectation.parse(str(expr)))
            except MtlscheckError as exc:
                raise self.error(w, str(exc)) from None
        return out
