"""HAProxy configuration -> :class:`Site` per ``bind ... ssl`` line of a frontend/listen.

HAProxy puts the whole client-certificate setup on the ``bind`` line (``verify``, ``ca-file``,
``crl-file``, ``crt-ignore-err``, ``ca-ignore-err``, ``ssl-min-ver``/``ssl-max-ver``); the
checks of the verify result are ``acl``/``http-request`` lines of the same section naming
``ssl_c_verify`` or ``ssl_c_used``.  ``ca-base``/``crt-base`` and
``ssl-default-bind-options`` come from ``global``.  Per-certificate options of a ``crt-list``
file are not read.
"""

from __future__ import annotations

import re
from pathlib import Path

from mtlscheck._errors import InputError
from mtlscheck._files import read_input_text
from mtlscheck._lint._apache import split_args
from mtlscheck._lint._model import Loc, Server, Setting, Site, Verify

__all__ = ["parse_haproxy"]

_SECTIONS = ("global", "defaults", "frontend", "listen", "backend", "peers", "resolvers",
             "userlist", "mailers", "program", "http-errors", "ring", "cache")  # fmt: skip
_VERIFY = {"none": Verify.OFF, "optional": Verify.OPTIONAL, "required": Verify.REQUIRE}
_VERSIONS = ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_SAMPLE = re.compile(r"ssl_c_(verify|used|ca_err|err)\b")
_FORWARD = re.compile(r"\b(set-header|add-header|set-var|capture)\b")


def _ver(option: str) -> str:
    """``tlsv13`` -> ``TLSv1.3``."""
    digits = option.lower().removeprefix("tlsv")
    return f"TLSv{digits[:1]}.{digits[1:]}"


def _protocols(opts: list[str], loc: Loc | None, text: str) -> Setting[frozenset[str]]:
    lo, hi = 2, 3  # HAProxy 2.2+ defaults: TLSv1.2 to TLSv1.3
    if _value(opts, "ssl-min-ver") in _VERSIONS:
        lo = _VERSIONS.index(str(_value(opts, "ssl-min-ver")))
    if _value(opts, "ssl-max-ver") in _VERSIONS:
        hi = _VERSIONS.index(str(_value(opts, "ssl-max-ver")))
    found = set(_VERSIONS[lo : hi + 1])
    for o in opts:
        if o.startswith("force-tlsv"):
            found = {_ver(o.removeprefix("force-"))}
    for o in opts:
        if o.startswith("no-tlsv"):
            found.discard(_ver(o.removeprefix("no-")))
    return Setting(frozenset("TLSv1" if v == "TLSv1.0" else v for v in found), loc, text)


def _value(words: list[str], key: str) -> str | None:
    for i, w in enumerate(words[:-1]):
        if w == key:
            return words[i + 1]
    return None


def parse_haproxy(path: Path) -> tuple[tuple[Site, ...], tuple[Path, ...]]:
    """The TLS bind lines of the HAProxy configuration ``path`` and the files read."""
    text = read_input_text(path, "HAProxy configuration")
    sections: list[tuple[str, str, list[tuple[Loc, list[str], str]]]] = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        words = split_args(line)
        if words[0] in _SECTIONS:
            sections.append((words[0], words[1] if len(words) > 1 else "", []))
            continue
        if not sections:
            raise InputError(f"{path}:{no}: '{words[0]}' outside any section")
        sections[-1][2].append((Loc(path, no), words, line))

    base = {"ca-base": path.parent, "crt-base": path.parent}
    default_opts: list[str] = []
    default_loc: tuple[Loc | None, str] = (None, "")
    for kind, _, lines in sections:
        if kind != "global":
            continue
        for loc, words, line in lines:
            if words[0] in ("ca-base", "crt-base") and len(words) > 1:
                base[words[0]] = Path(words[1])
            elif words[0] == "ssl-default-bind-options":
                default_opts, default_loc = words[1:], (loc, line)

    def file(value: str | None, which: str, loc: Loc, key: str) -> tuple[Setting[Path], ...]:
        if value is None:
            return ()
        p = Path(value)
        return (Setting(p if p.is_absolute() else base[which] / p, loc, f"{key} {value}"),)

    sites: list[Site] = []
    for kind, name, lines in sections:
        if kind not in ("frontend", "listen"):
            continue
        checked = any(
            w[0] in ("acl", "http-request", "tcp-request", "use_backend", "http-response")
            and _SAMPLE.search(line)
            and not _FORWARD.search(line)
            for _, w, line in lines
        )
        forwarded = any(_SAMPLE.search(line) and _FORWARD.search(line) for _, _, line in lines)
        for loc, words, _ in lines:
            if words[0] != "bind" or "ssl" not in words[2:]:
                continue
            opts = words[2:]
            v = _value(opts, "verify")
            verify = (
                Setting(_VERIFY.get(v, Verify.OFF), loc, f"bind ... verify {v}")
                if v is not None
                else Setting(Verify.OFF, loc, "bind ... without verify (default none)")
            )
            own = " ".join(
                f"{o} {opts[i + 1]}"
                if o in ("ssl-min-ver", "ssl-max-ver") and i + 1 < len(opts)
                else o
                for i, o in enumerate(opts)
                if o in ("ssl-min-ver", "ssl-max-ver") or o.startswith(("no-tlsv", "force-tlsv"))
            )
            protocols = (
                _protocols(opts, loc, f"bind ... {own}")
                if own
                else _protocols(default_opts, default_loc[0], default_loc[1] or "HAProxy defaults")
            )
            ignore = tuple(
                Setting(_value(opts, key) or "", loc, f"{key} {_value(opts, key)}")
                for key in ("crt-ignore-err", "ca-ignore-err")
                if _value(opts, key) is not None
            )
            crt = _value(opts, "crt")
            sites.append(
                Site(
                    server=Server.HAPROXY,
                    name=f"{kind} {name} bind {words[1] if len(words) > 1 else '?'}",
                    loc=loc,
                    verify=verify,
                    ca_files=file(_value(opts, "ca-file"), "ca-base", loc, "ca-file"),
                    crl_files=file(_value(opts, "crl-file"), "ca-base", loc, "crl-file"),
                    depth=None,
                    protocols=protocols,
                    checks_verify=checked,
                    forwards_verify=forwarded,
                    ignore_errors=ignore,
                    log_level=None,
                    server_cert=file(crt, "crt-base", loc, "crt")[0] if crt else None,
                )
            )
    return tuple(sites), (path,)
