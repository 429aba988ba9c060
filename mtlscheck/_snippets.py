"""Server configuration for a test PKI: nginx and Apache snippets and the curl command.

``mtlscheck pki init/nginx/apache`` print these, and the test suite runs real nginx and Apache
with exactly this text, so what a user pastes is what was tested.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from mtlscheck._errors import UsageError
from mtlscheck._pki import PKI

__all__ = ["apache_config", "curl_command", "nginx_config"]


def _nginx_arg(value: str | Path) -> str:
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_./:@+,=-]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _apache_arg(value: str | Path) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_listen(listen: str) -> str:
    listen = listen.strip()
    if not re.fullmatch(r"(?:(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]):)?[0-9]{1,5}", listen):
        raise UsageError(f"bad listen address {listen!r}; use PORT, HOST:PORT or [IPv6]:PORT")
    return listen


def _check_server_name(server_name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9*._-]+", server_name):
        raise UsageError(f"bad server name {server_name!r}")
    return server_name


def nginx_config(
    pki: PKI, *, listen: str = "443", server_name: str = "localhost", root: str | None = None
) -> str:
    """A complete nginx ``server { }`` block (for the ``http { }`` context) requiring mTLS.

    ``listen`` is ``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT``; ``root`` None answers every
    request with ``200 ok`` directly, else files are served from ``root``.
    """
    listen = _check_listen(listen)
    server_name = _check_server_name(server_name)
    if root is None:
        location = '        default_type text/plain;\n        return 200 "ok\\n";\n'
    else:
        location = f"        root {_nginx_arg(root)};\n"
    return (
        "# mtlscheck test PKI: nginx server block that requires a client certificate.\n"
        "# Put it in the http { } context, e.g. /etc/nginx/conf.d/mtls.conf.\n"
        "server {\n"
        f"    listen {listen} ssl;\n"
        f"    server_name {server_name};\n"
        "\n"
        f"    ssl_certificate     {_nginx_arg(pki.server_cert)};\n"
        f"    ssl_certificate_key {_nginx_arg(pki.server_key)};\n"
        "    ssl_protocols TLSv1.2 TLSv1.3;\n"
        "\n"
        "    # CA that issues client certificates (root only: intermediates come from the\n"
        "    # client). Its name is also sent to clients in the certificate request.\n"
        f"    ssl_client_certificate {_nginx_arg(pki.ca_cert)};\n"
        "    # on = a valid client certificate is required. nginx still completes the TLS\n"
        "    # handshake for a missing or bad certificate and answers HTTP 400 (internal codes\n"
        "    # 496 no certificate / 495 certificate error; remap with error_page 495 496 ...).\n"
        "    # optional = requests without a certificate get through unless the application\n"
        "    # checks $ssl_client_verify: do not use it to protect anything.\n"
        "    ssl_verify_client on;\n"
        "    # leaf -> intermediate CA -> root\n"
        "    ssl_verify_depth 2;\n"
        "    # CRLs of the root AND the intermediate CA: nginx checks every level of the chain\n"
        "    # and rejects a certificate whose issuer has no CRL in this file.\n"
        f"    ssl_crl {_nginx_arg(pki.crl)};\n"
        "\n"
        "    location / {\n"
        f"{location}"
        "    }\n"
        "}\n"
    )


def apache_config(
    pki: PKI,
    *,
    listen: str = "443",
    server_name: str = "localhost",
    document_root: str | None = None,
) -> str:
    """``Listen`` plus a ``<VirtualHost>`` for Apache 2.4 (mod_ssl) requiring mTLS.

    The first non-comment line is ``Listen <listen> https``; drop it if the server already
    listens there (Debian's ports.conf has ``Listen 443`` when mod_ssl is enabled).  The vhost
    address is ``*:PORT`` for a bare port, else ``listen`` itself.  ``document_root`` None uses
    the PKI's ``www`` directory (an ``index.html`` saying ``ok``).
    """
    listen = _check_listen(listen)
    server_name = _check_server_name(server_name)
    vhost = f"*:{listen}" if listen.isdigit() else listen
    if document_root is None:
        docroot = str(pki.www) if pki.www is not None else "/var/www/html"
    else:
        docroot = document_root
    return (
        "# mtlscheck test PKI: Apache 2.4 virtual host that requires a client certificate.\n"
        "# Needs mod_ssl (a2enmod ssl). Drop the Listen line if the server already listens\n"
        "# on this address (Debian's ports.conf has Listen 443 once mod_ssl is enabled).\n"
        f"Listen {listen} https\n"
        f"<VirtualHost {vhost}>\n"
        f"    ServerName {server_name}\n"
        "    # The worker user (www-data when started as root) must be able to read\n"
        "    # DocumentRoot and traverse every directory above it, or every request gets 403.\n"
        f"    DocumentRoot {_apache_arg(docroot)}\n"
        f"    <Directory {_apache_arg(docroot)}>\n"
        "        Require all granted\n"
        "    </Directory>\n"
        "\n"
        "    SSLEngine on\n"
        "    SSLProtocol -all +TLSv1.2 +TLSv1.3\n"
        f"    SSLCertificateFile {_apache_arg(pki.server_cert)}\n"
        f"    SSLCertificateKeyFile {_apache_arg(pki.server_key)}\n"
        "\n"
        "    # CA that issues client certificates (root only: intermediates come from the\n"
        "    # client). Its name is also sent to clients in the certificate request.\n"
        f"    SSLCACertificateFile {_apache_arg(pki.ca_cert)}\n"
        "    # require = the handshake fails with a TLS alert for a missing or bad certificate\n"
        "    # (with TLS 1.3 the client sees the alert on its first read, after the handshake).\n"
        "    # optional / optional_no_ca let clients without a valid certificate through\n"
        "    # unless the application checks SSL_CLIENT_VERIFY: do not use them to protect\n"
        "    # anything.\n"
        "    SSLVerifyClient require\n"
        "    # leaf -> intermediate CA -> root\n"
        "    SSLVerifyDepth 2\n"
        "    # CRLs of the root AND the intermediate CA: 'chain' checks every level and\n"
        "    # rejects a certificate whose issuer has no CRL in this file.\n"
        f"    SSLCARevocationFile {_apache_arg(pki.crl)}\n"
        "    SSLCARevocationCheck chain\n"
        "</VirtualHost>\n"
    )


def curl_command(pki: PKI, url: str, role: str = "valid") -> str:
    """A shell-quoted ``curl`` command that fetches ``url`` as client ``role``."""
    r = pki.role(role)
    parts = ["curl", "--cacert", str(pki.ca_cert), "--cert", str(r.send_file)]
    if r.key is not None:
        parts += ["--key", str(r.key)]
    parts.append(url)
    return shlex.join(parts)
