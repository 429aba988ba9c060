"""Apache httpd configuration -> :class:`Site` per TLS ``<VirtualHost>`` (and the main server).

A small reader of Apache's own syntax: one directive per line, ``\\`` continues a line, ``#``
starts a comment line, arguments split like ``ap_getword_conf`` (double or single quotes),
``<Section args>`` ... ``</Section>``.  ``Include``/``IncludeOptional`` are followed (globs,
directories, paths relative to ``ServerRoot``); ``Define`` and an ``envvars`` file beside the
main file (Debian) give ``${VAR}`` values; ``<IfModule>``/``<IfDefine>``/``<IfFile>`` are
decided from what the configuration loads and defines.

Merging follows mod_ssl: a ``<VirtualHost>`` inherits the main server's SSL directives that it
does not set; ``<Location>``/``<Directory>``/``<Files>`` sections (global ones too) are the
areas where per-directory ``SSLVerifyClient`` and checks of ``SSL_CLIENT_VERIFY`` live.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mtlscheck._errors import InputError
from mtlscheck._files import read_input, read_input_text
from mtlscheck._lint._model import Area, Loc, Server, Setting, Site, Verify

__all__ = ["parse_apache"]

_VERIFY = {
    "none": Verify.OFF,
    "optional": Verify.OPTIONAL,
    "require": Verify.REQUIRE,
    "optional_no_ca": Verify.OPTIONAL_NO_CA,
}
_AREAS = ("location", "locationmatch", "directory", "directorymatch", "files", "filesmatch")
_CATCH_ALL = {"/", '"/"', "^/", ".*", "^/.*"}
_ALL_PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug")
# Compiled into Debian's apache2 (never named in LoadModule).
_STATIC = {"core", "so", "watchdog", "http", "log_config", "logio", "version", "unixd"}
_MAX_FILES = 2000
_MAX_DEPTH = 32
_VAR = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass
class Node:
    name: str  # lower-case directive or section name
    args: list[str]
    loc: Loc
    children: list[Node] | None = None  # None for a directive
    word: str = ""
    """The name as written (``SSLVerifyClient``), for messages."""

    @property
    def text(self) -> str:
        return " ".join([self.word or self.name, *self.args])


def split_args(text: str) -> list[str]:
    """Arguments the way Apache's ``ap_getword_conf`` splits them."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] in "\"'":
            q, i, buf = text[i], i + 1, []
            while i < n and text[i] != q:
                if text[i] == "\\" and i + 1 < n and text[i + 1] in (q, "\\"):
                    i += 1
                buf.append(text[i])
                i += 1
            out.append("".join(buf))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace():
                j += 1
            out.append(text[i:j])
            i = j
    return out


@dataclass
class _Reader:
    main: Path
    server_root: Path
    defines: dict[str, str] = field(default_factory=dict)
    modules: set[str] = field(default_factory=set)
    modules_seen: bool = False
    files: list[Path] = field(default_factory=list)
    stack: list[Path] = field(default_factory=list)

    def subst(self, text: str) -> str:
        return _VAR.sub(lambda m: self.defines.get(m.group(1), m.group(0)), text)

    def path(self, arg: str) -> Path:
        p = Path(self.subst(arg))
        return p if p.is_absolute() else self.server_root / p

    def module_loaded(self, name: str) -> bool:
        if not self.modules_seen:
            return True  # a vhost snippet linted alone: assume what it needs is loaded
        n = name.lower().removeprefix("mod_").removesuffix(".c").removesuffix("_module")
        return n in self.modules or n in _STATIC

    def read(self, path: Path) -> list[Node]:
        if len(self.files) >= _MAX_FILES:
            raise InputError(f"more than {_MAX_FILES} included files: include loop?")
        if len(self.stack) >= _MAX_DEPTH:  # httpd stops at 128 (AP_MAX_INCLUDE_DEPTH)
            raise InputError(f"{path}: Include nested more than {_MAX_DEPTH} deep: include loop?")
        text = read_input_text(path, "Apache configuration")
        self.files.append(path)
        lines = self._logical_lines(text, path)
        self.stack.append(path)
        try:
            nodes, rest = self._block(lines, 0, path, None)
        finally:
            self.stack.pop()
        if rest < len(lines):
            raise InputError(f"{path}:{lines[rest][0]}: unexpected {lines[rest][1].split()[0]}")
        return nodes

    @staticmethod
    def _logical_lines(text: str, path: Path) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        buf, start = "", 0
        for no, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not buf:
                start = no
                if not line or line.startswith("#"):
                    continue
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            out.append((start, buf + line))
            buf = ""
        if buf:
            out.append((start, buf))
        return out

    def _block(
        self, lines: list[tuple[int, str]], i: int, path: Path, closing: str | None
    ) -> tuple[list[Node], int]:
        nodes: list[Node] = []
        while i < len(lines):
            no, line = lines[i]
            loc = Loc(path, no)
            if line.startswith("</"):
                name = line[2:].rstrip(">").strip().lower()
                if closing is None or name != closing:
                    raise InputError(f"{path}:{no}: unexpected </{name}>")
                return nodes, i + 1
            if line.startswith("<"):
                if not line.endswith(">"):
                    raise InputError(f"{path}:{no}: section line without '>': {line[:60]}")
                head = split_args(self.subst(line[1:-1]))
                name = head[0].lower() if head else ""
                children, i = self._block(lines, i + 1, path, name)
                word = head[0] if head else ""
                nodes.extend(self._section(Node(name, head[1:], loc, children, word)))
                continue
            words = split_args(self.subst(line))
            node = Node(words[0].lower(), words[1:], loc, None, words[0])
            nodes.extend(self._directive(node))
            i += 1
        if closing is not None:
            raise InputError(f"{path}: <{closing}> is never closed")
        return nodes, i

    def _section(self, node: Node) -> list[Node]:
        """Conditional sections are decided here; other sections are kept."""
        arg = node.args[0] if node.args else ""
        neg = arg.startswith("!")
        arg = arg.lstrip("!")
        if node.name == "ifmodule":
            active = self.module_loaded(arg) != neg
        elif node.name == "ifdefine":
            active = (arg in self.defines) != neg
        elif node.name == "iffile":
            active = self.path(arg).exists() != neg
        elif node.name in ("ifversion", "ifdirective", "ifsection"):
            active = True
        else:
            return [node]
        return (node.children or []) if active else []

    def _directive(self, node: Node) -> list[Node]:
        if node.name == "define" and node.args:
            self.defines[node.args[0]] = node.args[1] if len(node.args) > 1 else ""
        elif node.name == "serverroot" and node.args:
            self.server_root = Path(node.args[0])
        elif node.name == "loadmodule" and node.args:
            self.modules_seen = True
            self.modules.add(node.args[0].lower().removesuffix("_module"))
        elif node.name in ("include", "includeoptional") and node.args:
            return self._include(node)
        return [node]

    def _include(self, node: Node) -> list[Node]:
        target = self.path(node.args[0])
        names = sorted(glob.glob(str(target))) if glob.has_magic(str(target)) else [str(target)]
        if not names and node.name == "include" and not glob.has_magic(str(target)):
            raise InputError(f"{node.loc}: Include {target}: no such file")
        out: list[Node] = []
        for name in names:
            p = Path(name)
            if p.is_dir():
                subs = sorted(str(q) for q in p.rglob("*") if q.is_file())
                for q in subs:
                    out.extend(self.read(Path(q)))
            elif p.exists() or node.name == "include":
                out.extend(self.read(p))
        return out


def _envvars(main: Path) -> dict[str, str]:
    """``export NAME=value`` lines of Debian's ``envvars`` beside apache2.conf."""
    env = main.parent / "envvars"
    found: dict[str, str] = {}
    if not env.is_file():
        return found
    try:
        text = read_input(env, "Apache envvars").decode("utf-8", "replace")
    except InputError:
        return found
    for line in text.splitlines():
        m = re.match(r"\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if m:
            value = m.group(2).strip().strip("'\"")
            value = re.sub(r"\$\{?SUFFIX\}?", "", value)
            found[m.group(1)] = value
    return found


# --------------------------------------------------------------------------- merging


def _last(nodes: list[Node], name: str) -> Node | None:
    found = [n for n in nodes if n.children is None and n.name == name]
    return found[-1] if found else None


_CHECK = re.compile(r"SSL_CLIENT_VERIFY", re.I)


def _mentions_verify(node: Node) -> bool:
    return any(_CHECK.search(a) for a in node.args)


def _checks(nodes: list[Node]) -> tuple[bool, bool]:
    """(checked, forwarded) among these nodes: SSLRequire, ``Require expr``, ``<If>``, a
    RewriteCond on the verify result; RequestHeader / SSLOptions +StdEnvVars pass it on."""
    checked = forwarded = False
    for n in nodes:
        if n.children is not None:
            if n.name in ("if", "elseif") and _mentions_verify(n):
                checked = True
            elif n.name in ("requireall", "requireany", "requirenone"):
                c, f = _checks(n.children)
                checked, forwarded = checked or c, forwarded or f
            continue
        if n.name in ("sslrequire", "require", "rewritecond") and _mentions_verify(n):
            checked = True
        elif (n.name in ("requestheader", "setenv", "setenvif") and _mentions_verify(n)) or (
            n.name == "ssloptions" and any(a.lstrip("+").lower() == "stdenvvars" for a in n.args)
        ):
            forwarded = True
    return checked, forwarded


def _areas(nodes: list[Node]) -> Iterator[Area]:
    for n in nodes:
        if n.children is None or n.name not in _AREAS:
            continue
        v = _last(n.children, "sslverifyclient")
        checked, forwarded = _checks(n.children)
        yield Area(
            name=f"<{n.word} {' '.join(n.args)}>",
            loc=n.loc,
            verify=None
            if v is None or not v.args
            else Setting(_VERIFY.get(v.args[0].lower(), Verify.OFF), v.loc, v.text),
            checks_verify=checked,
            forwards_verify=forwarded,
        )


def _protocols(node: Node | None) -> Setting[frozenset[str]]:
    if node is None:
        return Setting(frozenset({"TLSv1.2", "TLSv1.3"}), None, "SSLProtocol all -SSLv3 (default)")
    found: set[str] = set()
    for arg in node.args:
        sign, name = (arg[0], arg[1:]) if arg[:1] in "+-" else ("", arg)
        names = set(_ALL_PROTOCOLS) if name.lower() == "all" else {name}
        if sign == "+":
            found |= names
        elif sign == "-":
            found -= names
        else:
            found = set(names)
    return Setting(frozenset(found), node.loc, node.text)


def _log_level(node: Node | None) -> Setting[str]:
    """The level mod_ssl logs at: ``LogLevel warn ssl:info`` -> info."""
    if node is None:
        return Setting("warn", None, "LogLevel warn (the default)")
    level = "warn"
    for arg in node.args:
        mod, colon, lv = arg.rpartition(":")
        if not colon:
            level = arg.lower()
        elif mod.lower() in ("ssl", "mod_ssl.c", "ssl_module"):
            level = lv.lower()
    if level.startswith("trace"):
        level = "debug"
    return Setting(level, node.loc, node.text)


def _site(
    name: str, loc: Loc, nodes: list[Node], base: list[Node], global_areas: list[Area], r: _Reader
) -> Site | None:
    def last(d: str) -> Node | None:
        return _last(nodes, d) or _last(base, d)

    engine = last("sslengine")
    if engine is None or not engine.args or engine.args[0].lower() not in ("on", "optional"):
        return None
    v = last("sslverifyclient")
    verify = (
        Setting(_VERIFY.get(v.args[0].lower(), Verify.OFF), v.loc, v.text)
        if v is not None and v.args
        else Setting(Verify.OFF, None, "no SSLVerifyClient (default none)")
    )

    def files(*ds: str) -> tuple[Setting[Path], ...]:
        out = []
        for d in ds:
            n = last(d)
            if n is not None and n.args:
                out.append(Setting(r.path(n.args[0]), n.loc, n.text))
        return tuple(out)

    d = last("sslverifydepth")
    depth = (
        Setting(int(d.args[0]), d.loc, d.text)
        if d is not None and d.args and d.args[0].isdigit()
        else Setting(1, None, "SSLVerifyDepth 1 (the default)")
    )
    rc = last("sslcarevocationcheck")
    crl_check = (
        Setting(rc.args[0].lower(), rc.loc, rc.text)
        if rc is not None and rc.args
        else Setting("none", None, "SSLCARevocationCheck none (the default)")
    )
    proto = last("protocols")
    h2 = proto is not None and "h2" in proto.args and r.module_loaded("http2")
    areas = [*global_areas, *_areas(nodes)]
    checked, forwarded = _checks(nodes)
    checked = checked or any(
        a.checks_verify and a.name.split(" ", 1)[-1].rstrip(">") in _CATCH_ALL for a in areas
    )
    names_file = files("sslcadnrequestfile")
    certs = files("sslcertificatefile")
    return Site(
        server=Server.APACHE,
        name=name,
        loc=loc,
        verify=verify,
        ca_files=files("sslcacertificatefile", "sslcacertificatepath"),
        crl_files=files("sslcarevocationfile", "sslcarevocationpath"),
        crl_check=crl_check,
        depth=depth,
        protocols=_protocols(last("sslprotocol")),
        areas=tuple(areas),
        checks_verify=checked,
        forwards_verify=forwarded,
        http2=None if proto is None else Setting(h2, proto.loc, proto.text),
        log_level=_log_level(last("loglevel")),
        server_cert=certs[0] if certs else None,
        ca_names_file=names_file[0] if names_file else None,
    )


def parse_apache(path: Path) -> tuple[tuple[Site, ...], tuple[Path, ...]]:
    """The TLS sites of the Apache configuration ``path`` and the files read."""
    r = _Reader(main=path, server_root=path.parent, defines={**_envvars(path)})
    for name in ("APACHE_RUN_USER", "APACHE_LOG_DIR"):
        r.defines.setdefault(name, os.environ.get(name, "${" + name + "}"))
    nodes = r.read(path)
    base = [n for n in nodes if n.children is None]
    global_areas = list(_areas(nodes))
    sites: list[Site] = []
    main = _site(f"main server ({path.name})", Loc(path, 1), [], base, global_areas, r)
    if main is not None:
        sites.append(main)
    for n in nodes:
        if n.children is not None and n.name == "virtualhost":
            site = _site(
                f"<VirtualHost {' '.join(n.args)}>", n.loc, n.children, base, global_areas, r
            )
            if site is not None:
                sites.append(site)
    return tuple(sites), tuple(r.files)
