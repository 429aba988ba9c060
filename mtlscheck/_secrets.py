"""Credentials a run may carry, and how they are kept out of reports and printed commands.

A probe can send credentials: URL userinfo (``https://user:pw@host/``, only with
``--user-from-url``) becomes HTTP Basic auth, and ``--header`` may carry ``Authorization``,
``Cookie`` or an API key.  Reports go to CI logs, dashboards and pull-request comments, so
none of them may carry these values: reports show ``<redacted>``, and the reproduce commands
name an environment variable (``"$MTLSCHECK_HEADER_AUTHORIZATION"``) the user sets first.

Pure functions over strings; imports nothing but :mod:`re` and :mod:`urllib.parse`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "KEY_PASSWORD_ENV",
    "P12_PASSWORD_ENV",
    "REDACTED",
    "USERINFO_ENV",
    "has_userinfo",
    "header_env_var",
    "is_secret_header",
    "redact_text",
    "redact_url",
    "strip_userinfo",
]

REDACTED = "<redacted>"
USERINFO_ENV = "MTLSCHECK_USERINFO"
"""The ``user:password`` of a URL, for ``curl --user`` in a printed command."""
P12_PASSWORD_ENV = "MTLSCHECK_P12_PASSWORD"
"""The PKCS#12 password, for ``curl --cert FILE:PASSWORD`` and ``openssl -pass env:``."""
KEY_PASSWORD_ENV = "MTLSCHECK_KEY_PASSWORD"
"""The password of an encrypted private key, for ``curl --pass`` and ``openssl -pass env:``."""

_ALWAYS_SECRET = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
_SECRETISH = re.compile(
    r"api[-_]?key|apikey|token|secret|passw|auth|session|credential|signature|private",
    re.IGNORECASE,
)


def is_secret_header(name: str) -> bool:
    """``Authorization``, ``Cookie``, ``X-Api-Key`` and the like: values never printed.

    Besides the well-known names, any header whose name says token, secret, key, auth,
    session, password or credential is treated as secret: guessing wrong costs one
    environment variable in a printed command, guessing the other way leaks a credential.
    """
    lower = name.strip().lower()
    return lower in _ALWAYS_SECRET or bool(_SECRETISH.search(lower))


def header_env_var(name: str) -> str:
    """``X-Api-Key`` -> ``MTLSCHECK_HEADER_X_API_KEY``: where a printed command takes its value."""
    return "MTLSCHECK_HEADER_" + re.sub(r"[^A-Z0-9]+", "_", name.strip().upper()).strip("_")


def _netloc_userinfo(url: str) -> tuple[str, str] | None:
    """(userinfo, rest of netloc), or None when the URL has no userinfo (or does not parse)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    userinfo, at, hostport = netloc.rpartition("@")
    return (userinfo, hostport) if at else None


def has_userinfo(url: str) -> bool:
    """True for ``https://user@host/`` and ``https://user:pw@host/`` (even an empty user)."""
    return _netloc_userinfo(url) is not None


def strip_userinfo(url: str) -> str:
    """The URL without its userinfo (``https://host/``); unchanged when it has none."""
    parts = _netloc_userinfo(url)
    if parts is None:
        return url
    u = urlsplit(url)
    return urlunsplit((u.scheme, parts[1], u.path, u.query, u.fragment))


def redact_url(url: str) -> str:
    """``https://user:pw@host/`` -> ``https://<redacted>@host/``."""
    return _URL_USERINFO.sub(_redact_userinfo, url)


# scheme://userinfo@ - greedy up to the netloc's last "@", as urlsplit reads it.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/?#@]*(?:@[^\s/?#@]*)*)@")
# Header lines inside free text (an error message quoting a request, say).  Only well-known
# names here: a broad guess would blank out diagnostics such as "post-handshake auth: yes".
_HEADER_IN_TEXT = re.compile(
    r"(?im)\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key"
    r"|x-auth-token|x-access-token)(\s*+:\s*+)(?![\"']?\$MTLSCHECK_)([^\r\n\"']+)"
)


def _redact_userinfo(m: re.Match[str]) -> str:
    return f"{m.group(1)}{REDACTED}@"


def redact_text(text: str) -> str:
    """Remove credentials from free text: URL userinfo and well-known secret header values.

    References to our environment variables (``$MTLSCHECK_HEADER_...``) are left alone: they
    are what a printed command should contain.
    """
    if "@" in text:
        text = _URL_USERINFO.sub(_redact_userinfo, text)
    if ":" in text:
        text = _HEADER_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return text
