"""Fix texts per finding and server, as data: the config line to change and what to write.

Keys are finding codes (:class:`mtlscheck._diagnose.Code` values) or ``code/cause`` for a
finding whose fix depends on the likely cause.  Servers: ``nginx``, ``apache`` (httpd with
mod_ssl), ``haproxy``, ``caddy`` where their fix differs, and ``client`` for fixes on the
caller's side (trust store, names).  ``{n}`` in a text is filled in by the rule (e.g. the
verify depth a chain needs).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["FIXES", "fixes_for"]

_REQUIRE = {
    "nginx": "in the server { } block: ssl_verify_client on;  (with ssl_client_certificate "
    "/etc/nginx/client-ca.pem; naming the CA that issues your client certificates)",
    "apache": "in the <VirtualHost>: SSLVerifyClient require  (with SSLCACertificateFile "
    "/etc/apache2/client-ca.pem)",
    "haproxy": "on the bind line: ... ssl crt server.pem ca-file /etc/haproxy/client-ca.pem "
    "verify required",
    "caddy": "in the site's tls { } block: client_auth { mode require_and_verify; "
    "trusted_ca_cert_file /etc/caddy/client-ca.pem }",
}

# A bad certificate got through: the server requests a certificate but does not verify it.
_VERIFY = {
    "nginx": "ssl_verify_client on;  (not optional_no_ca, which skips the CA check; and no "
    "application check relying on $ssl_client_verify alone)",
    "apache": "SSLVerifyClient require  (not optional_no_ca, which accepts any certificate)",
    "haproxy": "bind ... verify required  and remove crt-ignore-err / ca-ignore-err from the "
    "bind line",
    "caddy": "client_auth { mode require_and_verify }  (mode require and mode request only ask "
    "for a certificate, they do not verify it)",
}

FIXES: Mapping[str, Mapping[str, str]] = {
    "client-auth-not-requested": _REQUIRE,
    "client-auth-optional": {
        "nginx": "ssl_verify_client on;  instead of optional / optional_no_ca.  If some paths "
        "must stay open, keep optional and refuse in each protected location:\n"
        "if ($ssl_client_verify != SUCCESS) { return 403; }",
        "apache": "SSLVerifyClient require  instead of optional / optional_no_ca.  If some paths "
        "must stay open, keep optional and add to each protected <Location>:\n"
        "Require expr %{SSL_CLIENT_VERIFY} == 'SUCCESS'",
        "haproxy": "bind ... verify required  instead of verify optional (or keep optional and "
        "add: http-request deny unless { ssl_c_used ssl_c_verify 0 })",
        "caddy": "client_auth { mode require_and_verify }  instead of request / verify_if_given",
    },
    "valid-cert-rejected": {
        "nginx": "error.log says why ('client SSL certificate verify error: (N:reason)'); "
        "check ssl_client_certificate (the issuing CA), ssl_verify_depth and ssl_crl",
        "apache": "error.log says why (AH02039 / AH02276 'Certificate Verification: Error'); "
        "check SSLCACertificateFile, SSLVerifyDepth and SSLCARevocationFile",
        "haproxy": "the log's ssl_c_verify / ssl_c_err say why; check ca-file and crl-file on "
        "the bind line",
        "caddy": "Caddy (Go) answers bad_certificate for every reason: run with debug logs and "
        "check trusted_ca_cert_file",
    },
    "valid-cert-rejected/client": {
        "client": "the probe's own certificate is the problem: renew it from the CA the server "
        "trusts (check its validity dates, extendedKeyUsage clientAuth, revocation)",
    },
    "ca-names-exclude-client-issuer": {
        "nginx": "ssl_client_certificate /etc/nginx/client-ca.pem;  must contain the CA that "
        "issued the client certificate (its root; intermediates too if clients do not send "
        "them). nginx advertises exactly this file's names",
        "apache": "SSLCACertificateFile /etc/apache2/client-ca.pem  must contain the issuing CA "
        "(and SSLCADNRequestFile, if set, must name it)",
        "haproxy": "bind ... ca-file /etc/haproxy/client-ca.pem  with the issuing CA (and "
        "ca-verify-file, if used, its intermediates)",
        "caddy": "client_auth { trusted_ca_cert_file /etc/caddy/client-ca.pem }  with the "
        "issuing CA",
    },
    "verify-depth-too-small": {
        "nginx": "ssl_verify_depth {n};  (the client chain has {n} certificate(s) above the "
        "leaf up to the root)",
        "apache": "SSLVerifyDepth {n}  (1 only allows certificates issued directly by a CA in "
        "SSLCACertificateFile)",
        "haproxy": "the default depth is enough; check that ca-file holds the root and the "
        "intermediate",
        "caddy": "add the intermediate to trusted_ca_cert_file (Go needs the issuer chain)",
    },
    "client-ca-incomplete": {
        "nginx": "ssl_client_certificate /etc/nginx/client-ca.pem;  must end in the ROOT: append "
        "the root CA after the intermediate.  To advertise only the intermediate, keep it there "
        "and put the root in ssl_trusted_certificate /etc/nginx/client-root.pem; (trusted, not "
        "advertised).  Trusting the root trusts every CA under it: to admit this intermediate "
        'only, add if ($ssl_client_i_dn != "<its DN>") { return 403; }',
        "apache": "SSLCACertificateFile /etc/apache2/client-ca.pem  must hold the intermediate "
        "AND its root (to advertise only the intermediate: SSLCADNRequestFile with the "
        "intermediate alone).  To admit this intermediate only: "
        "Require expr %{SSL_CLIENT_I_DN} == '<its DN>'",
        "haproxy": "bind ... ca-file /etc/haproxy/client-intermediate.pem "
        "ca-verify-file /etc/haproxy/client-root.pem  (ca-verify-file: trusted to end the "
        "chain, not advertised; HAProxy >= 2.2), or put both CAs in ca-file",
        "caddy": "Caddy (Go) accepts an intermediate as trust anchor; if it refuses, check "
        "trusted_ca_cert_file holds the issuing CA",
    },
    "client-auth-checked-over-http": {
        "nginx": "nothing to fix if every protected location has "
        "if ($ssl_client_verify != SUCCESS) { return 403; }.  To enforce for the whole "
        "server { } instead: ssl_verify_client on;",
        "apache": "nothing to fix if every protected <Location> has "
        "Require expr %{SSL_CLIENT_VERIFY} == 'SUCCESS'.  To enforce for the whole "
        "<VirtualHost> instead: SSLVerifyClient require",
        "haproxy": "nothing to fix if the deny rule covers every protected path.  To enforce in "
        "TLS instead: bind ... verify required",
        "caddy": "to enforce in TLS: client_auth { mode require_and_verify }",
    },
    "expired-cert-accepted": _VERIFY,
    "not-yet-valid-cert-accepted": _VERIFY,
    "foreign-ca-accepted": {
        **_VERIFY,
        "nginx": _VERIFY["nginx"] + "; ssl_client_certificate must hold only your own CA",
        "apache": _VERIFY["apache"] + "; SSLCACertificateFile must hold only your own CA",
    },
    "foreign-ca-accepted/lookalike": {
        "nginx": "the server or an application in front matches the issuer NAME: let nginx "
        "verify (ssl_verify_client on;) and do not trust a header set by a proxy",
        "apache": "let mod_ssl verify (SSLVerifyClient require) instead of checking "
        "SSL_CLIENT_I_DN in the application",
        "haproxy": "verify required on the bind line; do not accept ssl_c_i_dn matches alone",
        "caddy": "mode require_and_verify; do not check the issuer name in the application",
    },
    "foreign-ca-accepted/trusted-file": {
        "nginx": "ssl_client_certificate /etc/nginx/client-ca.pem;  must hold ONLY the CA that "
        "issues your client certificates (every CA in it is trusted for client auth)",
        "apache": "SSLCACertificateFile /etc/apache2/client-ca.pem  must hold ONLY the CA that "
        "issues your client certificates (also check SSLCACertificatePath)",
        "haproxy": "bind ... ca-file /etc/haproxy/client-ca.pem  with ONLY your client CA",
        "caddy": "client_auth { trusted_ca_cert_file /etc/caddy/client-ca.pem }  with ONLY your "
        "client CA",
    },
    "client-eku-not-enforced": {
        **_VERIFY,
        "nginx": "ssl_verify_client on;  (OpenSSL then requires extendedKeyUsage clientAuth); "
        "not optional_no_ca",
        "apache": "SSLVerifyClient require  (OpenSSL then requires extendedKeyUsage "
        "clientAuth); not optional_no_ca",
    },
    "revocation-not-checked": {
        "nginx": "ssl_crl /etc/nginx/client-crl.pem;  (CRLs of EVERY CA in the client chain: "
        "nginx fails all clients if one is missing; reload nginx when the CRL is renewed)\n"
        "or OCSP (nginx 1.19+): ssl_ocsp on;  (+ ssl_ocsp_responder http://ocsp.internal/;  "
        "when the certificates name no responder; an unreachable responder refuses everyone)",
        "apache": "SSLCARevocationFile /etc/apache2/client-crl.pem\n"
        "SSLCARevocationCheck chain\n"
        "(without SSLCARevocationCheck the CRL file is loaded and IGNORED: the default is none)\n"
        "or OCSP: SSLOCSPEnable on  (+ SSLOCSPDefaultResponder http://ocsp.internal/ and "
        "SSLOCSPOverrideResponder on when the certificates name no responder)",
        "haproxy": "bind ... crl-file /etc/haproxy/client-crl.pem  (CRLs of every CA in ca-file)",
        "caddy": "Caddy 2.6 cannot check client certificates against a CRL: terminate mTLS in "
        "front of it (HAProxy crl-file / nginx ssl_crl) or use short-lived certificates",
    },
    "chain-incomplete": {
        "nginx": "clients must send leaf + intermediate (curl --cert chain.pem); or let nginx "
        "hold it: append the intermediate to ssl_client_certificate (or to "
        "ssl_trusted_certificate to trust it without advertising it)",
        "apache": "clients must send leaf + intermediate; or append the intermediate to "
        "SSLCACertificateFile (or SSLCACertificatePath)",
        "haproxy": "clients must send leaf + intermediate; or add it to ca-file",
        "caddy": "clients must send leaf + intermediate; or add it to trusted_ca_cert_file",
    },
    "tls13-not-offered": {
        "nginx": "ssl_protocols TLSv1.2 TLSv1.3;  (in the server { } or http { } block)",
        "apache": "SSLProtocol -all +TLSv1.2 +TLSv1.3",
        "haproxy": "bind ... ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3  (remove no-tlsv13 / "
        "force-tlsv12)",
        "caddy": "tls { protocols tls1.2 tls1.3 }",
    },
    "tls12-not-offered": {
        "nginx": "nothing to fix if every client speaks TLS 1.3; otherwise "
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "apache": "nothing to fix if every client speaks TLS 1.3; otherwise "
        "SSLProtocol -all +TLSv1.2 +TLSv1.3",
        "haproxy": "nothing to fix if every client speaks TLS 1.3; otherwise "
        "bind ... ssl-min-ver TLSv1.2",
        "caddy": "nothing to fix if every client speaks TLS 1.3; otherwise "
        "tls { protocols tls1.2 tls1.3 }",
    },
    "per-location-client-auth": {
        "apache": "move SSLVerifyClient require (and SSLVerifyDepth) from <Location>/<Directory> "
        "up to the <VirtualHost>.  If only some paths need a certificate: SSLVerifyClient "
        "optional in the <VirtualHost> and, in the protected <Location>:\n"
        "Require expr %{SSL_CLIENT_VERIFY} == 'SUCCESS'",
        "nginx": "nginx cannot ask per location: ssl_verify_client optional; in the server and "
        "if ($ssl_client_verify != SUCCESS) { return 403; } in the protected location",
        "client": "a client must offer TLS 1.3 post-handshake auth (curl and Python's ssl do; "
        "Go, browsers and HTTP/2 do not) or use TLS 1.2 with renegotiation",
    },
    "server-cert-untrusted": {
        "client": "give the CA that issued the server certificate: --cacert server-ca.pem "
        "(or --insecure to probe anyway; findings about the server certificate stay)",
        "nginx": "ssl_certificate must hold the server certificate FOLLOWED by its "
        "intermediates (fullchain.pem)",
        "apache": "SSLCertificateFile must hold the server certificate followed by its "
        "intermediates (or SSLCertificateChainFile on httpd < 2.4.8)",
        "haproxy": "the crt file must hold the certificate, its intermediates and the key",
        "caddy": "tls cert.pem key.pem: cert.pem must hold the full chain",
    },
    "server-hostname-mismatch": {
        "client": "probe the name the certificate is issued for (or keep the URL's name and "
        "connect elsewhere with --resolve HOST:PORT:ADDR)",
        "nginx": "ssl_certificate: issue the certificate with subjectAltName DNS:<the host "
        "clients use>",
        "apache": "SSLCertificateFile: issue the certificate with subjectAltName DNS:<the host "
        "clients use>",
    },
    "not-tls": {
        "nginx": "listen 443 ssl;  (the port is served without the ssl parameter)",
        "apache": "SSLEngine on  in this <VirtualHost> (and Listen 443 https)",
        "haproxy": "bind :443 ssl crt /etc/haproxy/server.pem",
        "caddy": "use an https:// site address or a tls directive for this port",
        "client": "check the port: this one speaks plain text (HTTP?)",
    },
    # lint only (mtlscheck lint): what a configuration shows and no probe can see
    "client-cert-errors-not-logged": {
        "nginx": "error_log /var/log/nginx/error.log info;  (nginx logs client-certificate "
        "errors at info)",
        "apache": "LogLevel warn ssl:info  (mod_ssl logs AH02008 and AH02276 at info)",
    },
    "referenced-file-unreadable": {
        "nginx": "check the path (relative paths are relative to the directory of nginx.conf) "
        "and run lint where the file exists",
        "apache": "check the path (relative paths are relative to ServerRoot) and run lint "
        "where the file exists",
        "haproxy": "check the path (relative paths are relative to ca-base) and run lint "
        "where the file exists",
    },
    "connection-refused": {
        "client": "nothing listens there: check host, port, and that the server is running "
        "(ss -ltnp)",
        "nginx": "listen <port> ssl;  in the server { } block; nginx -t; systemctl status nginx",
        "apache": "Listen <port> https  and a matching <VirtualHost *:<port>>; apachectl -t",
    },
    "timeout": {
        "client": "a firewall drops packets or the server hangs; raise --timeout to tell them "
        "apart",
    },
    "target-unreachable": {
        "client": "check the host name (DNS), the port and the route to it "
        "(--resolve HOST:PORT:ADDR bypasses DNS); a port that accepts TCP and hangs up on "
        "the ClientHello is not a TLS endpoint (wrong port, proxy without a backend, a "
        "firewall)",
    },
}


def fixes_for(key: str, **values: str) -> tuple[tuple[str, str], ...]:
    """The (server, fix) pairs for ``key``, with ``{name}`` placeholders filled in."""
    out: list[tuple[str, str]] = []
    for server, text in FIXES.get(key, {}).items():
        for name, value in values.items():
            text = text.replace("{" + name + "}", value)
        out.append((server, text))
    return tuple(out)
