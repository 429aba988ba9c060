"""Checks of the values a user gives (URL, names, method, headers, timeout), before any probe.

A value that cannot work must fail here as one :class:`~mtlscheck.UsageError` line, not later
as a probe result that blames the server (a NaN timeout is not a "connect error", a header
with a line break is not a server's fault).  The command line, suite files and the Python API
all pass through these functions (via :class:`mtlscheck._runner.Target`), so they agree.
"""

from __future__ import annotations

import ipaddress
import math
import re
from urllib.parse import urlsplit

from mtlscheck._errors import UsageError

__all__ = [
    "MAX_TIMEOUT",
    "check_address",
    "check_header",
    "check_hostname",
    "check_method",
    "check_port",
    "check_timeout",
    "closest",
    "parse_https_url",
    "parse_resolve",
]

MAX_TIMEOUT = 3600.0
"""Seconds: one probe is one connection; an hour is far beyond any sane wait."""

# RFC 9110 section 5.6.2: token = 1*tchar
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A field value: visible ASCII, space and tab; httpx encodes header values as ASCII.
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _show(value: str, limit: int = 80) -> str:
    """A value quoted for a one-line error: credentials in a URL never reach the message."""
    from mtlscheck._secrets import redact_url

    text = repr(redact_url(value))
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def closest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for the nearest of ``choices``, or "" when none is close."""
    import difflib

    match = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def check_port(value: int | str, what: str) -> int:
    """A TCP port 1..65535 (port 0 means "any" to the kernel: never a server's port)."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise UsageError(f"{what}: port must be 1-65535, got {_show(text)}")
    return int(text)


def check_hostname(name: str, what: str) -> str:
    """A DNS name (labels of 1-63 characters, 253 in all) or an IP address; returned as given."""
    if not isinstance(name, str) or not name:
        raise UsageError(f"{what}: empty host name")
    try:
        ipaddress.ip_address(name)
        return name
    except ValueError:
        pass
    try:
        ascii_name = name if name.isascii() else name.encode("idna").decode("ascii")
    except UnicodeError:
        raise UsageError(f"{what}: {_show(name)} is not a valid host name") from None
    labels = ascii_name.removesuffix(".").split(".")
    for label in labels:
        if len(label) > 63:
            raise UsageError(
                f"{what}: a label of {_show(name, 50)} is {len(label)} characters long; "
                "DNS allows at most 63"
            )
        if not _LABEL.fullmatch(label):
            raise UsageError(f"{what}: {_show(name)} is not a valid host name")
    if len(ascii_name.removesuffix(".")) > 253:
        raise UsageError(f"{what}: host name is longer than 253 characters")
    return name


def check_address(addr: str, what: str = "--resolve") -> str:
    """An address to connect to instead of resolving the URL's host: an IP or a host name."""
    return check_hostname(addr.strip("[]") if isinstance(addr, str) else addr, what)


def parse_https_url(url: str) -> tuple[str, int]:
    """``(host, port)`` of an ``https://`` URL; one-line :class:`UsageError` for anything else."""
    if not isinstance(url, str):
        raise UsageError(f"the URL must be a string, got {type(url).__name__}")
    if any(c <= " " or c == "\x7f" for c in url):
        raise UsageError(f"the URL {_show(url)} contains spaces or control characters")
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError as exc:
        raise UsageError(f"bad URL {_show(url)}: {exc}") from None
    if u.scheme.lower() != "https":
        raise UsageError(f"not an https:// URL: {_show(url)} (mTLS needs TLS)")
    host = u.hostname
    if not host:
        raise UsageError(f"no host in URL {_show(url)}")
    if port is None:
        port = 443
    elif port == 0:
        raise UsageError(f"port 0 in URL {_show(url)}: give the server's port (1-65535)")
    if ":" not in host:  # urlsplit already checked a bracketed IPv6 literal
        check_hostname(host, f"host of URL {_show(url, 60)}")
    return host, port


def check_method(method: str) -> str:
    """An HTTP method token (``GET``, ``HEAD``, ``PROPFIND`` ...), upper-cased."""
    if not isinstance(method, str) or not _TOKEN.fullmatch(method):
        raise UsageError(
            f"--method {_show(str(method))} is not an HTTP method (letters, no spaces)"
        )
    return method.upper()


def check_header(name: str, value: str) -> tuple[str, str]:
    """One request header: a token name and a printable-ASCII value without line breaks."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise UsageError(f"--header name {_show(str(name))} is not a valid header name")
    if not isinstance(value, str) or not _FIELD_VALUE.fullmatch(value):
        # Never echo the value: it may be a credential.
        raise UsageError(
            f"--header {name}: the value must be printable ASCII on one line "
            "(no line breaks or control characters)"
        )
    return name, value.strip()


def check_timeout(value: float, what: str = "--timeout") -> float:
    """Seconds per probe: a finite number above 0 and at most :data:`MAX_TIMEOUT`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{what} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0 or value > MAX_TIMEOUT:
        raise UsageError(
            f"{what} must be a positive number of seconds, at most {MAX_TIMEOUT:g}; got {value!r}"
        )
    return float(value)


def parse_resolve(value: str, url: str) -> str:
    """curl's ``--resolve HOST:PORT:ADDR`` for ``url`` → ADDR, the address to connect to.

    HOST and PORT must be the URL's (as with curl, a non-matching entry would silently not
    apply); an IPv6 HOST or ADDR is written in brackets, ``[::1]``.
    """
    usage = "--resolve takes HOST:PORT:ADDR (like curl)"
    if not isinstance(value, str) or not value:
        raise UsageError(f"{usage}, got nothing")
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]:")
    else:
        host, sep, rest = value.partition(":")
    port, sep2, addr = rest.partition(":")
    if not sep or not sep2 or not host or not addr:
        raise UsageError(f"{usage}, got {_show(value)}")
    if "," in addr:
        raise UsageError(f"--resolve: give one address, not a list ({_show(addr)})")
    number = check_port(port, "--resolve")
    url_host, url_port = parse_https_url(url)
    if host.lower().rstrip(".") != url_host.lower().rstrip(".") or number != url_port:
        raise UsageError(
            f"--resolve {_show(value)} does not match the URL's host and port "
            f"({url_host}:{url_port})"
        )
    return check_address(addr, "--resolve address").strip("[]")
