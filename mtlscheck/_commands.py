"""``curl`` and ``openssl s_client`` command lines that reproduce a probe with the same files."""

from __future__ import annotations

import shlex

from mtlscheck._hostname import is_ip_address
from mtlscheck._identity import ClientIdentity
from mtlscheck._tls import TLSSettings

__all__ = ["curl_command", "openssl_command"]


def curl_command(
    url: str,
    settings: TLSSettings,
    identity: ClientIdentity | None,
    *,
    method: str = "GET",
    headers: tuple[tuple[str, str], ...] = (),
) -> str:
    args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}\\n"]
    if settings.version:
        args += [f"--tlsv{settings.version}", "--tls-max", settings.version]
    if settings.insecure:
        args.append("--insecure")
    elif settings.cafile is not None:
        args += ["--cacert", str(settings.cafile)]
    if settings.address:
        addr = f"[{settings.address}]" if ":" in settings.address else settings.address
        args += ["--resolve", f"{settings.host}:{settings.port}:{addr}"]
    if settings.servername and settings.servername != settings.host:
        dest = settings.address or settings.host
        args += ["--connect-to", f"{settings.servername}:{settings.port}:{dest}:{settings.port}"]
    if identity is not None:
        if identity.cert_path is None:
            args += ["--cert", "<not saved: use --save-certs DIR>"]
        elif identity.cert_type == "P12":
            args += ["--cert-type", "P12", "--cert", f"{identity.cert_path}:$P12_PASSWORD"]
        else:
            args += ["--cert", str(identity.cert_path)]
            if identity.key_path is not None and identity.key_path != identity.cert_path:
                args += ["--key", str(identity.key_path)]
    if method != "GET":
        args += ["-X", method]
    for k, v in headers:
        args += ["-H", f"{k}: {v}"]
    args.append(url)
    return " ".join(_quote(a) for a in args)


def openssl_command(settings: TLSSettings, identity: ClientIdentity | None) -> str:
    target = settings.address or settings.host
    if ":" in target and not target.startswith("["):
        target = f"[{target}]"
    args = ["openssl", "s_client", "-connect", f"{target}:{settings.port}"]
    # SNI carries host names only (RFC 6066): for an IP send none, as the probe does; and
    # check the name the way the probe does.
    name = settings.check_name
    if is_ip_address(name):
        args += ["-noservername", "-verify_ip", name.strip("[]")]
    else:
        args += ["-servername", name, "-verify_hostname", name]
    args.append("-brief")
    if settings.version:
        args.append("-tls1_3" if settings.version == "1.3" else "-tls1_2")
    if settings.cafile is not None and not settings.insecure:
        args += ["-CAfile", str(settings.cafile)]
    if identity is not None and identity.cert_path is not None and identity.cert_type == "PEM":
        args += ["-cert", str(identity.cert_path)]
        if identity.chain:
            args += ["-cert_chain", str(identity.cert_path)]
        if identity.key_path is not None:
            args += ["-key", str(identity.key_path)]
    return " ".join(_quote(a) for a in args)


def _quote(arg: str) -> str:
    if arg.startswith("$") or ":$" in arg:
        return f'"{arg}"'
    return shlex.quote(arg)
