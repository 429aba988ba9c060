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

from mtlscheck._errors import InputError, MtlscheckError
from mtlscheck._options import SUITE_KEYS, layer

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
OPTION_KEYS: tuple[str, ...] = SUITE_KEYS
"""Keys allowed in ``[defaults]`` and in every ``[[targets]]`` entry (plus ``name``/``url``)."""
_TARGET_ONLY = ("name", "url")
_IDENTITY_KEYS = ("cert", "key")
_TOP_KEYS = ("version", "defaults", "identities", "targets")
_VERSIONS = ("1.2", "1.3")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_NESTING = 32
"""Deepest ``[``/``{`` nesting and longest dotted key accepted before TOML parsing: a suite
needs three or four, while tomllib recurses on brackets and needs memory quadratic in the
length of a dotted key (``a.a.a...`` of 100 000 parts exhausts memory)."""


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters: error messages stay one readable line."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<deeply nested {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shape_error(text: str) -> tuple[int, str] | None:
    """``(line, message)`` when ``text`` nests brackets or dotted keys deeper than any suite
    does; a small lexer that skips strings and comments, run before :mod:`tomllib` sees it."""
    i, n, line = 0, len(text), 1
    depth = dots = 0
    after_key = False
    bare = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    while i < n:
        c = text[i]
        if c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if text[j] == "\n":
                    line += 1
                    if len(quote) == 1:
                        break  # unterminated: tomllib reports it
                if c == '"' and text[j] == "\\":
                    j += 1
                    line += text[j : j + 1] == "\n"
                j += 1
            i = j + len(quote)
            after_key = True
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c == "\n":
            line += 1
            dots, after_key = 0, False
        elif c in "[{":
            depth += 1
            dots, after_key = 0, False
            if depth > _MAX_NESTING:
                return line, f"nesting deeper than {_MAX_NESTING} levels"
        elif c in "]}":
            depth = max(0, depth - 1)
            dots, after_key = 0, False
        elif c == ".":
            if after_key:
                dots += 1
                if dots > _MAX_NESTING:
                    return line, f"a dotted key of more than {_MAX_NESTING} parts"
            after_key = False
        elif c in bare:
            after_key = True
        elif c not in " \t\r":
            dots, after_key = 0, False
        i += 1
    return None


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

    def check_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`mtlscheck.check` for this target (password resolved)."""
        opts = dict(self.options)
        env = opts.pop("key_password_env", None)
        if env is not None:
            if env not in os.environ:
                raise InputError(
                    f"target {self.name}: key_password_env: environment variable {env} is not set"
                )
            opts["key_password"] = os.environ[env].encode()
        opts["tls"] = "both" if len(self.versions) > 1 else self.versions[0]
        opts["probes"] = self.probes
        return opts

    def preflight(self, path: Path | None = None) -> None:
        """Check every value and load every file of this target, without connecting.

        Raises :class:`InputError` (``FILE:LINE: target NAME: ...`` when ``path`` is given).
        """
        from mtlscheck._api import prepare

        try:
            prepare(self.url, **self.check_kwargs())
        except MtlscheckError as exc:
            where = f"{path}:{self.line}: " if path is not None and self.line else ""
            msg = str(exc).removeprefix(f"target {self.name}: ")
            raise InputError(f"{where}target {self.name}: {msg}") from None

    def run(
        self,
        *,
        on_result: Callable[[ProbeResult], None] | None = None,
        deadline: float | None = None,
    ) -> TargetResult:
        """Probe this target (every probe x version) with :func:`mtlscheck.check`."""
        from mtlscheck._api import check

        return check(self.url, on_result=on_result, deadline=deadline, **self.check_kwargs())


@dataclass(frozen=True)
class Suite:
    path: Path
    targets: tuple[SuiteTarget, ...]

    def validate(self) -> None:
        """:meth:`SuiteTarget.preflight` of every target: a bad identity file in the last
        target is reported before the first target is probed."""
        for t in self.targets:
            t.preflight(self.path)

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
    from mtlscheck._files import read_input_text

    p = Path(path)
    return parse_suite(read_input_text(p, "suite"), p, defaults=defaults)


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
    from mtlscheck._api import run_many

    suite.validate()  # every target, identities included, before the first probe
    # One pool for every target of the file: a silent target no longer holds up the rest.
    return run_many(
        [(t.url, t.check_kwargs()) for t in suite.targets],
        deadline=deadline,
        on_result=on_result,
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
        if len(message) > 300:  # messages quote values from the file, which may be huge
            message = message[:240] + " ... " + message[-50:]
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
            raise self.error(where, f"{what} must be a non-empty string, got {_short(value)}")
        return self._expand(value.strip(), where)

    def _path(self, value: Any, where: tuple[str | int, ...], what: str) -> str:
        raw = self._str(value, where, what)
        try:  # ~nobody, a NUL byte or a name too long for the OS raise, not return False
            p = Path(raw).expanduser()
            p = p if p.is_absolute() else self.base / p
            found = p.exists()
        except (OSError, ValueError, RuntimeError):
            raise self.error(where, f"{what}: unusable path {_short(raw)}") from None
        if not found:
            from mtlscheck._files import shown_path

            raise self.error(where, f"{what}: {shown_path(p)} does not exist")
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
                raise self.error(where, f"unknown identity {_short(name)} (known: {known})")
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
                    (*where, k), f"unknown key {_short(k)} in {what} (known: {', '.join(keys)})"
                )

    # -- the document ------------------------------------------------------------------------

    def parse(self, outer: Mapping[str, Any]) -> Suite:
        shape = _shape_error(self.text)
        if shape is not None:
            raise InputError(f"{self.path}:{shape[0]}: invalid suite: {shape[1]}")
        try:
            doc = tomllib.loads(self.text)
        except RecursionError:
            raise InputError(f"{self.path}: invalid suite: nesting too deep") from None
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
            raise self.error(("version",), f"unsupported suite version {_short(version)} (use 1)")

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
                    f"duplicate target name {_short(t.name)} (also target #{seen[t.name] + 1}); "
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
        from mtlscheck._validate import parse_https_url

        try:
            host, _port = parse_https_url(url)
        except MtlscheckError as exc:
            raise self.error((*at, "url"), f"url must be https://HOST[:PORT]/...: {exc}") from None
        if "name" in entry:
            name = self._str(entry["name"], (*at, "name"), "name")
            if "::" in name or "/" in name:
                raise self.error(
                    (*at, "name"), f"target name {_short(name)} may not contain :: or /"
                )
        else:
            name = host

        # Layers, lowest first: plugin/CLI defaults, [defaults], the target itself (the one
        # layering rule of every surface: mtlscheck._options.layer).
        merged = {
            k: (v, None if src is None else (*src, k))
            for k, (v, src) in layer([(outer, None), (base, ("defaults",)), (entry, at)]).items()
        }

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
                from mtlscheck._validate import check_timeout

                try:
                    opts["timeout"] = check_timeout(v, "timeout")
                except MtlscheckError as exc:
                    raise self.error(w, str(exc)) from None
            elif k in ("insecure", "user_from_url"):
                if not isinstance(v, bool):
                    raise self.error(w, f"{k} must be true or false, got {_short(v)}")
                opts[k] = v
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
                if tbl:
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
                    f"unknown server profile {_short(opts['server'])}; "
                    f"use one of: {', '.join(ServerProfile)}",
                )
        line = self._line(at)
        return SuiteTarget(name, url, probes, versions, opts, line)

    def _probes(self, value: Any, where: tuple[str | int, ...]) -> tuple[str, ...]:
        from mtlscheck._probes import select_probes

        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise self.error(where, f"probes must be a list of probe names, got {_short(value)}")
        try:
            return select_probes(items)
        except MtlscheckError as exc:
            raise self.error(where, str(exc)) from None

    def _versions(self, value: Any, where: tuple[str | int, ...]) -> tuple[str, ...]:
        items = [value] if isinstance(value, str | int | float) else value
        if not isinstance(items, list) or not items:
            raise self.error(
                where, f"tls must be '1.2', '1.3', 'both' or a list, got {_short(value)}"
            )
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
                    w, f"expect names unknown probe {_short(probe)}; known: {', '.join(CATALOGUE)}"
                )
            if not isinstance(expr, str | int):
                raise self.error(w, f"expectation for {probe} must be a string, got {_short(expr)}")
            try:
                out[probe] = str(Expectation.parse(str(expr)))
            except MtlscheckError as exc:
                raise self.error(w, str(exc)) from None
        return out
