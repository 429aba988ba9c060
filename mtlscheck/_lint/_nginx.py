"""nginx configuration -> :class:`Site` per TLS ``server { }`` block (http and stream).

Parsed with ``crossplane`` (nginx's own grammar, from PyPI; imported here only).  Includes are
followed by this module, not by crossplane, so that every included file passes the same
bounded-read check as the main file (a FIFO or ``/dev/zero`` behind an ``include`` must not
hang lint).  Context and argument checks are left to ``nginx -t``: lint only needs the mTLS
directives, and crossplane's built-in directive table does not know third-party modules.

Inheritance follows nginx: ``ssl_*`` and ``error_log`` set in ``http``/``stream`` apply to every
server that does not set them itself.  Relative paths are relative to the main file's
directory (nginx's conf prefix under ``-c FILE``).
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtlscheck._errors import InputError
from mtlscheck._files import read_input
from mtlscheck._lint._model import Area, Loc, Server, Setting, Site, Verify

__all__ = ["parse_nginx"]

Stmt = dict[str, Any]

_VERIFY = {
    "on": Verify.REQUIRE,
    "optional": Verify.OPTIONAL,
    "optional_no_ca": Verify.OPTIONAL_NO_CA,
    "off": Verify.OFF,
}
# Directives whose value an http/stream block hands down to its servers.
_INHERITED = (
    "ssl_verify_client",
    "ssl_client_certificate",
    "ssl_trusted_certificate",
    "ssl_crl",
    "ssl_verify_depth",
    "ssl_protocols",
    "ssl_certificate",
    "error_log",
)
# Directives that pass a value to a backend (lint cannot see what the backend does with it).
_FORWARD = (
    "proxy_set_header",
    "fastcgi_param",
    "uwsgi_param",
    "scgi_param",
    "grpc_set_header",
)
_LOG_LEVELS = ("debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")
_MAX_FILES = 500


@dataclass
class _Tree:
    """The parsed statements with includes spliced in, and every file read."""

    stmts: list[Stmt]
    files: list[Path] = field(default_factory=list)


def _crossplane() -> Any:
    try:
        import crossplane  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        raise InputError(
            "linting nginx needs the 'crossplane' package: pip install crossplane"
        ) from None
    return crossplane


def _parse_file(path: Path, files: list[Path], seen: set[Path], prefix: Path) -> list[Stmt]:
    read_input(path, "nginx configuration")  # regular, bounded: before crossplane opens it
    files.append(path)
    seen.add(path.resolve())
    payload = _crossplane().parse(
        str(path), single=True, check_ctx=False, check_args=False, catch_errors=True
    )
    for err in payload.get("errors", []):
        where = f"{err.get('file') or path}" + (f":{err['line']}" if err.get("line") else "")
        text = str(err.get("error"))
        if "recursion" in text:
            text = "blocks nested too deeply"
        raise InputError(f"{where}: {text}")
    parsed = payload["config"][0]["parsed"]
    for stmt in _walk(parsed):
        stmt["_file"] = path
    return _splice(parsed, files, seen, prefix)


def _walk(stmts: list[Stmt]) -> Iterator[Stmt]:
    for s in stmts:
        yield s
        yield from _walk(s.get("block", []))


def _splice(stmts: list[Stmt], files: list[Path], seen: set[Path], prefix: Path) -> list[Stmt]:
    out: list[Stmt] = []
    for s in stmts:
        if s["directive"] == "include" and s["args"]:
            pattern = s["args"][0]
            full = pattern if Path(pattern).is_absolute() else str(prefix / pattern)
            names = sorted(glob.glob(full)) if glob.has_magic(full) else [full]
            for name in names:
                p = Path(name)
                if p.resolve() in seen:
                    continue  # nginx would include it again; one reading is enough for lint
                if len(files) >= _MAX_FILES:
                    raise InputError(f"more than {_MAX_FILES} included files: include loop?")
                out.extend(_parse_file(p, files, seen, prefix))
            continue
        if "block" in s:
            s["block"] = _splice(s["block"], files, seen, prefix)
        out.append(s)
    return out


def _loc(s: Stmt) -> Loc:
    return Loc(s["_file"], int(s["line"]))


def _text(s: Stmt) -> str:
    return " ".join([s["directive"], *s["args"]])


def _path(arg: str, prefix: Path) -> Path | None:
    if "$" in arg:
        return None  # a variable: resolved per request, not readable here
    p = Path(arg)
    return p if p.is_absolute() else prefix / p


def _own(block: list[Stmt]) -> dict[str, list[Stmt]]:
    found: dict[str, list[Stmt]] = {}
    for s in block:
        found.setdefault(s["directive"], []).append(s)
    return found


def _verify_vars(stmts: list[Stmt]) -> set[str]:
    """``$ssl_client_verify`` and every variable ``map``-ped from it."""
    names = {"$ssl_client_verify"}
    for s in _walk(stmts):
        if s["directive"] == "map" and len(s["args"]) >= 2 and s["args"][0] in names:
            names.add(s["args"][1])
    return names


def _mentions(s: Stmt, names: set[str]) -> bool:
    return any(n in a for a in s["args"] for n in names)


def _checks(block: list[Stmt], names: set[str]) -> tuple[bool, bool]:
    """(checked, forwarded) at this level: an ``if`` on the verify result, or a directive that
    passes it to a backend."""
    checked = any(s["directive"] == "if" and _mentions(s, names) for s in block)
    forwarded = any(s["directive"] in _FORWARD and _mentions(s, names) for s in block)
    return checked, forwarded


def _areas(block: list[Stmt], names: set[str], outer: str = "") -> Iterator[Area]:
    for s in block:
        if s["directive"] != "location" or not s["args"]:
            continue
        name = f"location {' '.join(s['args'])}"
        if s["args"][0].startswith("@"):
            continue  # named locations are reached only from other locations
        inner = s.get("block", [])
        checked, forwarded = _checks(inner, names)
        yield Area(
            name=(outer + " > " if outer else "") + name,
            loc=_loc(s),
            checks_verify=checked,
            forwards_verify=forwarded,
        )
        yield from _areas(inner, names, name)


def _log_level(stmts: list[Stmt]) -> Setting[str]:
    """The most verbose level among the error_log lines in force (nginx logs to all of them)."""
    best: tuple[int, Stmt] | None = None
    for s in stmts:
        level = s["args"][1] if len(s["args"]) > 1 else "error"
        rank = _LOG_LEVELS.index(level) if level in _LOG_LEVELS else len(_LOG_LEVELS)
        if best is None or rank < best[0]:
            best = (rank, s)
    if best is None:
        return Setting("error", None, "error_log logs/error.log error (the default)")
    return Setting(_LOG_LEVELS[min(best[0], len(_LOG_LEVELS) - 1)], _loc(best[1]), _text(best[1]))


def _site(
    server: Stmt, inherited: dict[str, list[Stmt]], names: set[str], prefix: Path, kind: str
) -> Site | None:
    block = server.get("block", [])
    own = {**inherited, **_own(block)}

    def last(d: str) -> Stmt | None:
        return own[d][-1] if own.get(d) else None

    listens = own.get("listen", [])
    tls = any("ssl" in s["args"][1:] or "quic" in s["args"][1:] for s in listens) or any(
        s["args"][:1] == ["on"] for s in own.get("ssl", [])
    )
    names_ = " ".join(a for s in own.get("server_name", []) for a in s["args"]) or "_"
    ports = ", ".join(s["args"][0] for s in listens if s["args"]) or "80"
    label = f"{kind}server {names_} (listen {ports})".replace("server _ ", "server ")
    has_tls_material = any(own.get(d) for d in ("ssl_certificate", "ssl_client_certificate"))
    if not tls:
        if not has_tls_material:
            return None
        # Certificates configured but no TLS listener: the probe sees plain text (not-tls).
        return Site(
            server=Server.NGINX,
            name=label,
            loc=_loc(server),
            verify=Setting(Verify.OFF),
            logs_client_errors=False,
            plain=True,
        )

    v = last("ssl_verify_client")
    verify = (
        Setting(
            _VERIFY.get(v["args"][0], Verify.OFF) if v["args"] else Verify.OFF, _loc(v), _text(v)
        )
        if v is not None
        else Setting(Verify.OFF, None, "no ssl_verify_client (default off)")
    )

    def files(d: str) -> tuple[Setting[Path], ...]:
        out = []
        for s in own.get(d, [])[-1:]:
            p = _path(s["args"][0], prefix) if s["args"] else None
            if p is not None:
                out.append(Setting(p, _loc(s), _text(s)))
        return tuple(out)

    d = last("ssl_verify_depth")
    depth = (
        Setting(int(d["args"][0]), _loc(d), _text(d))
        if d is not None and d["args"] and d["args"][0].isdigit()
        else Setting(1, None, "ssl_verify_depth 1 (the default)")
    )
    p = last("ssl_protocols")
    protocols = (
        Setting(frozenset(p["args"]), _loc(p), _text(p))
        if p is not None
        else Setting(frozenset({"TLSv1.2", "TLSv1.3"}), None, "ssl_protocols (default)")
    )
    checked, forwarded = _checks(block, names)
    certs = files("ssl_certificate")
    return Site(
        server=Server.NGINX,
        name=label,
        loc=_loc(server),
        verify=verify,
        ca_files=files("ssl_client_certificate"),
        trusted_files=files("ssl_trusted_certificate"),
        crl_files=files("ssl_crl"),
        depth=depth,
        protocols=protocols,
        areas=tuple(_areas(block, names)),
        checks_verify=checked,
        forwards_verify=forwarded,
        log_level=_log_level(own.get("error_log", [])),
        logs_client_errors=True,
        server_cert=certs[0] if certs else None,
    )


def _sites(
    stmts: list[Stmt], inherited: dict[str, list[Stmt]], names: set[str], prefix: Path, kind: str
) -> Iterator[Site]:
    here = {**inherited, **{k: v for k, v in _own(stmts).items() if k in _INHERITED}}
    for s in stmts:
        if s["directive"] in ("http", "stream"):
            yield from _sites(
                s.get("block", []),
                here,
                names,
                prefix,
                "stream " if s["directive"] == "stream" else "",
            )
        elif s["directive"] == "server" and "block" in s:
            site = _site(s, here, names, prefix, kind)
            if site is not None:
                yield site


def parse_nginx(path: Path) -> tuple[tuple[Site, ...], tuple[Path, ...]]:
    """The TLS sites of the nginx configuration ``path`` and the files read."""
    files: list[Path] = []
    prefix = path.parent
    stmts = _parse_file(path, files, set(), prefix)
    names = _verify_vars(stmts)
    return tuple(_sites(stmts, {}, names, prefix, "")), tuple(files)
