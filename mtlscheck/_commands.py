"""``curl`` and ``openssl s_client`` command lines that reproduce a probe with the same files.

A printed command must do what the probe did - same address, SNI, name check, TLS version,
client certificate and request - or the user chasing a problem gets a different answer than
mtlscheck did.  Two rules shape it:

- ``--servername`` (SNI and name check differ from the URL host): curl takes SNI and the name
  it checks from the URL only, and applies ``--connect-to``/``--resolve`` only to the URL's
  host.  So the printed URL names the servername, ``--connect-to`` sends curl where the probe
  connected, and ``-H Host:`` keeps the Host header the probe sent.
- Credentials (URL userinfo, ``Authorization``/``Cookie``/API-key headers, a query with a
  secret parameter, the PKCS#12 password) never appear as values: the command names an
  environment variable to set first (see :mod:`mtlscheck._secrets`), so it can be pasted into
  a ticket or a CI log.  A secret query is taken whole from ``$MTLSCHECK_QUERY``, as userinfo
  is from ``$MTLSCHECK_USERINFO``: the request stays byte for byte the probe's.
"""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit, urlunsplit

from mtlscheck._hostname import is_ip_address
from mtlscheck._identity import ClientIdentity
from mtlscheck._secrets import (
    KEY_PASSWORD_ENV,
    P12_PASSWORD_ENV,
    QUERY_ENV,
    USERINFO_ENV,
    has_secret_query,
    has_userinfo,
    header_env_var,
    is_secret_header,
    public_query,
    strip_userinfo,
)
from mtlscheck._tls import TLSSettings

__all__ = ["curl_command", "openssl_command"]


class _Quoted(str):
    """An argument already quoted for the shell (it names an environment variable)."""


def _dq(text: str) -> str:
    """``text`` for the inside of a double-quoted shell word: no expansion of its own."""
    return re.sub(r'(["\\$`])', r"\\\1", text)


def _env_arg(literal: str, var: str) -> _Quoted:
    """``"<literal>$VAR"``: the literal part as is, the secret from the environment."""
    return _Quoted(f'"{_dq(literal)}${var}"')


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _authority(host: str, port: int) -> str:
    """The Host header httpx sends for this URL: the port only when it is not 443."""
    return _bracket(host) + ("" if port == 443 else f":{port}")


def curl_command(
    url: str,
    settings: TLSSettings,
    identity: ClientIdentity | None,
    *,
    method: str = "GET",
    headers: tuple[tuple[str, str], ...] = (),
    plain_http: bool = False,
) -> str:
    """The curl command line for one probe (connection options, identity, request).

    ``plain_http`` (the ``plaintext`` probe): ``http://`` to the same port, without the
    credentials the probe leaves out too (URL userinfo, secret headers).
    """
    args: list[str] = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}\\n"]
    if plain_http:
        return _plain_curl(args, url, settings, method, headers)
    if settings.version:
        args += [f"--tlsv{settings.version}", "--tls-max", settings.version]
    if settings.insecure or settings.sni:
        # With another SNI (sni-mismatch) curl would check the certificate against that name,
        # which the probe does not require; the probe has checked the server already.
        args.append("--insecure")
    elif settings.cafile is not None:
        args += ["--cacert", str(settings.cafile)]
    host, port = settings.host, settings.port
    request_url = strip_userinfo(url)
    secret_query = has_secret_query(url)
    if secret_query:  # the query comes from $MTLSCHECK_QUERY (appended at the end)
        u = urlsplit(request_url)
        request_url = urlunsplit((u.scheme, u.netloc, u.path or "/", "", ""))
    sni = settings.sni or settings.servername
    if sni and sni.strip("[]").lower() != host.strip("[]").lower():
        # curl's SNI and name check come from the URL: put the servername there, connect
        # where the probe connected, and send the Host header the probe sent.
        u = urlsplit(request_url)
        request_url = urlunsplit((u.scheme, _authority(sni, port), u.path or "/", u.query, ""))
        dest = _bracket(settings.address or host)
        args += ["--connect-to", f"{_bracket(sni)}:{port}:{dest}:{port}"]
        args += ["-H", f"Host: {_authority(host, port)}"]
    elif settings.address:
        args += ["--resolve", f"{host}:{port}:{_bracket(settings.address)}"]
    if identity is not None:
        if identity.cert_path is None:
            args += ["--cert", "<not saved: use --save-certs DIR>"]
        elif identity.cert_type == "P12":
            args += [
                "--cert-type",
                "P12",
                "--cert",
                _env_arg(f"{identity.cert_path}:", P12_PASSWORD_ENV),
            ]
        else:
            if identity.cert_type == "DER":
                args += ["--cert-type", "DER"]
            args += ["--cert", str(identity.cert_path)]
            if identity.key_path is not None and identity.key_path != identity.cert_path:
                if identity.key_type == "DER":
                    args += ["--key-type", "DER"]
                args += ["--key", str(identity.key_path)]
            if identity.key_encrypted:
                args += ["--pass", _env_arg("", KEY_PASSWORD_ENV)]
    if has_userinfo(url):
        args += ["--user", _env_arg("", USERINFO_ENV)]
    if method != "GET":
        args += ["-X", method]
    for k, v in headers:
        if has_userinfo(url) and k.strip().lower() == "authorization":
            continue  # httpx replaces it with the URL's Basic auth; curl would keep it instead
        if is_secret_header(k):
            args += ["-H", _env_arg(f"{k}: ", header_env_var(k))]
        else:
            args += ["-H", f"{k}: {v}"]
    args.append(_env_arg(f"{request_url}?", QUERY_ENV) if secret_query else request_url)
    return " ".join(_quote(a) for a in args)


def _plain_curl(
    args: list[str],
    url: str,
    settings: TLSSettings,
    method: str,
    headers: tuple[tuple[str, str], ...],
) -> str:
    host, port = settings.host, settings.port
    u = urlsplit(strip_userinfo(url))
    if settings.address:
        args += ["--resolve", f"{host}:{port}:{_bracket(settings.address)}"]
    if method != "GET":
        args += ["-X", method]
    for k, v in headers:
        if not is_secret_header(k):
            args += ["-H", f"{k}: {v}"]
    # Secret query parameters are left out, as secret headers are: never sent in clear.
    query = public_query(u.query)
    args.append(urlunsplit(("http", f"{_bracket(host)}:{port}", u.path or "/", query, "")))
    return " ".join(_quote(a) for a in args)


def openssl_command(settings: TLSSettings, identity: ClientIdentity | None) -> str:
    """The ``openssl s_client`` command line for one probe's handshake.

    Type the HTTP request (``GET / HTTP/1.1``, ``Host: ...``, blank line) once it connects:
    a TLS 1.3 server rejects a certificate only when the client reads after the handshake.
    """
    target = settings.address or settings.host
    args = ["openssl", "s_client", "-connect", f"{_bracket(target)}:{settings.port}"]
    # SNI carries host names only (RFC 6066): for an IP send none, as the probe does; and
    # check the name the way the probe does.
    name = settings.check_name
    sni = settings.sni_name
    if is_ip_address(sni):
        args.append("-noservername")
    else:
        args += ["-servername", sni]
    if is_ip_address(name):
        args += ["-verify_ip", name.strip("[]")]
    else:
        args += ["-verify_hostname", name]
    args.append("-brief")
    if settings.version:
        args.append("-tls1_3" if settings.version == "1.3" else "-tls1_2")
    if not settings.insecure:
        # The probe refuses an untrusted server before sending anything; s_client by
        # default only prints the verify error and carries on.
        args.append("-verify_return_error")
        if settings.cafile is not None:
            args += ["-CAfile", str(settings.cafile)]
    if identity is not None and identity.cert_path is not None:
        if identity.cert_type == "P12":
            # OpenSSL 3 reads the certificate and key from a PKCS#12 file given as -cert.
            args += ["-cert", str(identity.cert_path), "-pass", f"env:{P12_PASSWORD_ENV}"]
        else:
            args += ["-cert", str(identity.cert_path)]
            if identity.cert_type == "DER":
                args += ["-certform", "DER"]
            if identity.chain:
                args += ["-cert_chain", str(identity.cert_path)]
            if identity.key_path is not None:
                args += ["-key", str(identity.key_path)]
                if identity.key_type == "DER":
                    args += ["-keyform", "DER"]
            if identity.key_encrypted:
                args += ["-pass", f"env:{KEY_PASSWORD_ENV}"]
    return " ".join(_quote(a) for a in args)


def _quote(arg: str) -> str:
    if isinstance(arg, _Quoted):
        return str(arg)
    return shlex.quote(arg)
