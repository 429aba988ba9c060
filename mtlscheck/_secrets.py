"""Credentials a run may carry, and how they are kept out of reports and printed commands.

A probe can send credentials: URL userinfo (``https://user:pw@host/``, only with
``--user-from-url``) becomes HTTP Basic auth, ``--header`` may carry ``Authorization``,
``Cookie`` or an API key, and the URL's query may carry a token or a signature
(``?access_token=...``, ``?sig=...``: pre-signed URLs, API gateways that take keys as
parameters).  Reports go to CI logs, dashboards and pull-request comments, so none of them may
carry these values: reports show ``<redacted>``, and the reproduce commands name an
environment variable (``"$MTLSCHECK_HEADER_AUTHORIZATION"``, ``"$MTLSCHECK_QUERY"``) the user
sets first.

Pure functions over strings; imports nothing but :mod:`re` and :mod:`urllib.parse`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit, urlunsplit

__all__ = [
    "KEY_PASSWORD_ENV",
    "P12_PASSWORD_ENV",
    "QUERY_ENV",
    "REDACTED",
    "USERINFO_ENV",
    "has_secret_query",
    "has_userinfo",
    "header_env_var",
    "is_secret_header",
    "is_secret_param",
    "public_query",
    "redact_query",
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
QUERY_ENV = "MTLSCHECK_QUERY"
"""The whole query string of a URL that has a secret parameter, for the printed ``curl``."""

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


# Query parameter names, as words (split at anything but letters and digits), that say "secret"
# beyond what a secret header name says: ``key`` (Google ``key=``, ``subscription-key``, and any
# word ending in it: ``apikey``, ``accessKey``), ``sig`` (Azure SAS), ``pass``/``pwd``, ``jwt``,
# ``hmac``, ``otp``, and session ids (``sid``, ``PHPSESSID``).
_SECRET_PARAM_WORDS = frozenset({"key", "sig", "pass", "pwd", "jwt", "hmac", "otp", "sid"})
_WORD = re.compile(r"[a-z0-9]+")


def is_secret_param(name: str) -> bool:
    """``token``, ``access_token``, ``api_key``, ``key``, ``sig``, ``X-Amz-Signature``, ...:
    a query parameter whose value is never printed.

    Every name a secret header may have counts (token, secret, passw, auth, session,
    credential, signature, private, api-key), plus the words above; the name is compared
    percent-decoded and case-insensitively.  As with headers, a wrong guess costs one
    environment variable in a printed command, the other way leaks a credential.
    """
    lower = unquote_plus(name).strip().lower()
    if not lower:
        return False
    if is_secret_header(lower) or "sessid" in lower:
        return True
    return any(w in _SECRET_PARAM_WORDS or w.endswith("key") for w in _WORD.findall(lower))


def _params(query: str) -> list[str]:
    """``a=1&b=2;c`` -> ``["a=1", "&", "b=2", ";", "c"]``: pieces and their separators (``;``
    too, which some servers still split on: over-redacting is the safe side)."""
    return re.split(r"([&;])", query)


def redact_query(query: str) -> str:
    """``token=abc&x=1`` -> ``token=<redacted>&x=1``: values of secret parameters replaced."""
    out = []
    for piece in _params(query):
        name, eq, value = piece.partition("=")
        out.append(f"{name}={REDACTED}" if eq and value and is_secret_param(name) else piece)
    return "".join(out)


def public_query(query: str) -> str:
    """The query without its secret parameters (``token=abc&x=1`` -> ``x=1``): what may be
    sent in clear (the ``plaintext`` probe) or printed as it is."""
    kept = [
        piece
        for piece in _params(query)[::2]
        if piece and not is_secret_param(piece.partition("=")[0])
    ]
    return "&".join(kept)


def has_secret_query(url: str) -> bool:
    """True when the URL's query names a secret parameter (with or without a value)."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return False
    return any(is_secret_param(p.partition("=")[0]) for p in _params(query)[::2] if p)


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
    """Userinfo, and the values of secret query (and fragment: ``#access_token=``) parameters:
    ``https://user:pw@host/p?token=abc&x=1`` -> ``https://<redacted>@host/p?token=<redacted>&x=1``.
    """
    return _redact_params(_URL_USERINFO.sub(_redact_userinfo, url))


# scheme://userinfo@ - greedy up to the netloc's last "@", as urlsplit reads it.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/?#@]*(?:@[^\s/?#@]*)*)@")
# A query or fragment inside free text: from "?" or "#" up to whitespace, a quote or "<" (so
# text already redacted, "token=<redacted>", is left as it is).
_PARAMS_IN_TEXT = re.compile(r"[?#][^\s\"'<>`]+")
# Header lines inside free text (an error message quoting a request, say).  Only well-known
# names here: a broad guess would blank out diagnostics such as "post-handshake auth: yes".
_HEADER_IN_TEXT = re.compile(
    r"(?im)\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key"
    r"|x-auth-token|x-access-token)(\s*+:\s*+)(?![\"']?\$MTLSCHECK_)([^\r\n\"']+)"
)


def _redact_userinfo(m: re.Match[str]) -> str:
    return f"{m.group(1)}{REDACTED}@"


def _redact_params(text: str) -> str:
    if "=" not in text:
        return text
    return _PARAMS_IN_TEXT.sub(lambda m: m.group(0)[0] + redact_query(m.group(0)[1:]), text)


def redact_text(text: str) -> str:
    """Remove credentials from free text: URL userinfo, values of secret query parameters
    (anything after a ``?`` or ``#``: a URL, a request line ``GET /p?token=...``) and
    well-known secret header values.

    References to our environment variables (``$MTLSCHECK_HEADER_...``) are left alone: they
    are what a printed command should contain.
    """
    if "@" in text:
        text = _URL_USERINFO.sub(_redact_userinfo, text)
    text = _redact_params(text)
    if ":" in text:
        text = _HEADER_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return text
