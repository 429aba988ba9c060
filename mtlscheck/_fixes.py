"""Fix texts per finding and server, as data: the config line to change and what to write.

Keys are finding codes (:class:`mtlscheck._diagnose.Code` values) or ``code/cause`` for a
finding whose fix depends on the likely cause.  Servers: ``nginx``, ``apache`` (httpd with
mod_ssl), ``haproxy``, ``caddy``, and the ``--server`` values ``traefik``, ``ingress-nginx``,
``envoy``, ``node``, ``tomcat``, ``go``, ``gunicorn``, ``uvicorn`` where their fix differs, and
``client`` for fixes on the caller's side (trust store, names).  The texts of the later servers
follow their documentation; the comment above ``_GO_REQUIRE`` names the sections.  ``{n}`` in a
text is filled in by the rule (e.g. the verify depth a chain needs).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["FIXES", "fixes_for"]

# Documentation the texts of the other servers follow:
# - traefik:       Traefik docs, "HTTPS & TLS > TLS > Client Authentication (mTLS)"
#                  (tls.options.<name>.clientAuth.clientAuthType / caFiles) and
#                  "Middlewares > HTTP > PassTLSClientCert"; "TLS Options > Strict SNI Checking".
# - ingress-nginx: ingress-nginx docs, "Annotations > Client Certificate Authentication"
#                  (nginx.ingress.kubernetes.io/auth-tls-secret, auth-tls-verify-client,
#                  auth-tls-verify-depth, auth-tls-pass-certificate-to-upstream).
# - envoy:         Envoy API docs, "extensions.transport_sockets.tls.v3.DownstreamTlsContext"
#                  (require_client_certificate), "CertificateValidationContext" (trusted_ca, crl,
#                  match_typed_subject_alt_names), and "HttpConnectionManager"
#                  (forward_client_cert_details, set_current_client_cert_details).
# - node:          Node.js docs, "TLS (SSL) > tls.createServer([options])" (requestCert,
#                  rejectUnauthorized, ca, crl) and "tls.TLSSocket > tlsSocket.authorized".
# - tomcat:        Tomcat 10 configuration reference, "The HTTP Connector > SSL Support >
#                  SSLHostConfig" (certificateVerification, truststoreFile / caCertificateFile,
#                  certificateRevocationListFile, certificateVerificationDepth); checked
#                  against Tomcat 10.1 on JSSE (tests/test_tomcat_go.py): caCertificateFile is
#                  ignored there (the JRE's cacerts are trusted instead), CLIENT-CERT renegotiates
#                  on TLS 1.2 and answers 401 on TLS 1.3 (JSSE has no post-handshake auth).
# - go:            Go standard library, "crypto/tls > type ClientAuthType" and "type Config"
#                  (ClientAuth, ClientCAs, VerifyConnection); checked against Go 1.19 net/http.
# - gunicorn:      gunicorn docs, "Settings > SSL" (--cert-reqs, --ca-certs, ssl_context hook).
# - uvicorn:       uvicorn docs, "Settings > HTTPS" (--ssl-cert-reqs, --ssl-ca-certs).
_GO_REQUIRE = (
    "tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}  (pool: an "
    "x509.CertPool holding only your client CA)"
)
_MORE_REQUIRE = {
    "traefik": "tls.options.<name>.clientAuth: {clientAuthType: RequireAndVerifyClientCert, "
    "caFiles: [/etc/traefik/client-ca.pem]}  and reference the option from the router "
    "(tls.options: <name>@file); routers without it use tls.options.default",
    "ingress-nginx": "annotations on the Ingress: nginx.ingress.kubernetes.io/auth-tls-secret: "
    '"<namespace>/<secret with ca.crt>"  and  nginx.ingress.kubernetes.io/auth-tls-verify-client: '
    '"on"',
    "envoy": "in the listener's DownstreamTlsContext: require_client_certificate: true  and "
    "common_tls_context.validation_context.trusted_ca: {filename: /etc/envoy/client-ca.pem}",
    "node": "https.createServer({ requestCert: true, rejectUnauthorized: true, "
    "ca: [fs.readFileSync('client-ca.pem')], ... })",
    "tomcat": '<SSLHostConfig certificateVerification="required" '
    'truststoreFile="conf/client-ca.p12" ...>  (or caCertificateFile with the OpenSSL '
    "implementation)",
    "go": _GO_REQUIRE,
    "gunicorn": "gunicorn --cert-reqs 2 --ca-certs client-ca.pem ...  (2 = ssl.CERT_REQUIRED)",
    "uvicorn": "uvicorn --ssl-cert-reqs 2 --ssl-ca-certs client-ca.pem ...  "
    "(2 = ssl.CERT_REQUIRED)",
}
_MORE_OPTIONAL = {
    "traefik": "clientAuthType: RequireAndVerifyClientCert  instead of RequestClientCert / "
    "VerifyClientCertIfGiven",
    "ingress-nginx": 'nginx.ingress.kubernetes.io/auth-tls-verify-client: "on"  instead of '
    '"optional" / "optional_no_ca" (or keep optional and refuse in the application when the '
    "ssl-client-verify header the controller sets is not SUCCESS)",
    "envoy": "require_client_certificate: true  (without it a client without a certificate "
    "is let through)",
    "node": "rejectUnauthorized: true; or keep it false and refuse in the handler: "
    "if (!req.socket.authorized) { res.writeHead(401); return res.end(); }",
    "tomcat": 'certificateVerification="required"  instead of "optional" / "optionalNoCA"',
    "go": "ClientAuth: tls.RequireAndVerifyClientCert  instead of RequestClientCert / "
    "VerifyClientCertIfGiven",
    "gunicorn": "--cert-reqs 2  instead of 1 (CERT_OPTIONAL lets clients without a certificate in)",
    "uvicorn": "--ssl-cert-reqs 2  instead of 1 (CERT_OPTIONAL lets clients without a "
    "certificate in)",
}
_MORE_VERIFY = {
    "traefik": "clientAuthType: RequireAndVerifyClientCert  (RequireAnyClientCert and "
    "RequestClientCert do not verify the certificate)",
    "ingress-nginx": 'nginx.ingress.kubernetes.io/auth-tls-verify-client: "on"  (not '
    '"optional_no_ca", which skips the CA check)',
    "envoy": "validation_context.trusted_ca must be set (without it any certificate is "
    "accepted) and hold only your client CA",
    "node": "rejectUnauthorized: true  (or check req.socket.authorized, not only that "
    "req.socket.getPeerCertificate() returned something)",
    "tomcat": 'certificateVerification="required"  (not "optionalNoCA", which skips the CA check)',
    "go": "ClientAuth: tls.RequireAndVerifyClientCert  (RequireAnyClientCert and "
    "RequestClientCert do not verify)",
    "gunicorn": "--cert-reqs 2 --ca-certs client-ca.pem  (Python's ssl then verifies dates, "
    "issuer and extendedKeyUsage)",
    "uvicorn": "--ssl-cert-reqs 2 --ssl-ca-certs client-ca.pem",
}

_REQUIRE = {
    "nginx": "in the server { } block: ssl_verify_client on;  (with ssl_client_certificate "
    "/etc/nginx/client-ca.pem; naming the CA that issues your client certificates)",
    "apache": "in the <VirtualHost>: SSLVerifyClient require  (with SSLCACertificateFile "
    "/etc/apache2/client-ca.pem)",
    "haproxy": "on the bind line: ... ssl crt server.pem ca-file /etc/haproxy/client-ca.pem "
    "verify required",
    "caddy": "in the site's tls { } block: client_auth { mode require_and_verify; "
    "trusted_ca_cert_file /etc/caddy/client-ca.pem }",
    **_MORE_REQUIRE,
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
    **_MORE_VERIFY,
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
        **_MORE_OPTIONAL,
    },
    "valid-cert-rejected": {
        "nginx": "error.log says why ('client SSL certificate verify error: (N:reason)'); "
        "check ssl_client_certificate (the issuing CA), ssl_verify_depth, ssl_crl (a CRL for "
        "every CA of the chain, not expired) and ssl_ocsp (a responder nginx cannot reach "
        "refuses every client: 'certificate status request failed')",
        "apache": "error.log says why (AH02039 / AH02276 'Certificate Verification: Error'); "
        "check SSLCACertificateFile, SSLVerifyDepth, SSLCARevocationFile and SSLOCSPEnable (a "
        "responder Apache cannot reach refuses every client: AH01974 'could not connect to "
        "OCSP responder')",
        "haproxy": "the log's ssl_c_verify / ssl_c_err say why; check ca-file and crl-file on "
        "the bind line",
        "caddy": "Caddy (Go) answers bad_certificate for every reason: run with debug logs and "
        "check trusted_ca_cert_file",
        "tomcat": "JSSE answers certificate_unknown for every reason: run with "
        "-Djava.security.debug=certpath to see why; check truststoreFile (JSSE ignores "
        "caCertificateFile), certificateRevocationListFile (a CRL for every CA of the chain) "
        "and certificateVerificationDepth",
        "go": "Go answers bad_certificate for every reason; http.Server.ErrorLog says why "
        "('tls: failed to verify client certificate: x509: ...'): check ClientCAs and the "
        "certificate's extendedKeyUsage (Go requires clientAuth)",
    },
    "valid-cert-rejected/revocation": {
        "nginx": "error.log says which: '(3:unable to get certificate CRL)': ssl_crl must hold "
        "the CRL of EVERY CA of the chain, the root and each intermediate (or the chain is "
        "longer than ssl_verify_depth: with ssl_crl set nginx logs this error for that too; "
        "mtlscheck lint on the config tells them apart); '(12:CRL has expired)': renew the CRL "
        "and reload nginx; 'certificate status request failed' / 'OCSP responder ...': ssl_ocsp "
        "on asks a responder nginx cannot reach: fix ssl_ocsp_responder (or the certificates' "
        "OCSP URL) and resolver, or ssl_ocsp off until it answers",
        "apache": "error.log says which: AH02039/AH02276 'Error (3): unable to get certificate "
        "CRL': SSLCARevocationFile must hold the CRL of every CA of the chain (or "
        "SSLCARevocationCheck leaf); AH01974 'could not connect to OCSP responder': "
        "SSLOCSPEnable asks a responder Apache cannot reach: fix SSLOCSPDefaultResponder (or "
        "the certificates' OCSP URL), or SSLOCSPEnable off until it answers; AH02040 "
        "'Certificate Chain too long': raise SSLVerifyDepth",
        "haproxy": "bind ... crl-file  must hold the CRL of every CA in ca-file, the root and "
        "each intermediate (ssl_c_err 3: unable to get certificate CRL; 12: CRL has expired)",
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
        "traefik": "clientAuth.caFiles must list the CA that issued the client certificate",
        "ingress-nginx": "the auth-tls-secret's ca.crt must hold the issuing CA",
        "envoy": "validation_context.trusted_ca must hold the issuing CA",
        "node": "the ca option must hold the issuing CA (Node advertises exactly those)",
        "tomcat": 'truststoreFile="conf/client-ca.p12" (keytool -importcert) must hold the '
        "issuing CA; on JSSE, Tomcat's default, caCertificateFile is ignored and the JRE's "
        "cacerts are trusted instead (caCertificateFile works with the OpenSSL implementation)",
        "go": "ClientCAs must hold the issuing CA (Go advertises every subject in the pool)",
        "gunicorn": "--ca-certs must hold the issuing CA",
        "uvicorn": "--ssl-ca-certs must hold the issuing CA",
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
        "tomcat": "nothing to fix if every protected URL is under a <security-constraint> of a "
        "CLIENT-CERT <login-config>.  To enforce for the whole connector instead: "
        'certificateVerification="required" on the SSLHostConfig',
        "go": "nothing to fix if every protected handler checks len(r.TLS.VerifiedChains) > 0.  "
        "To enforce for the whole server instead: ClientAuth: tls.RequireAndVerifyClientCert",
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
        "traefik": "Traefik's clientAuth has no CRL or OCSP check: terminate mTLS in front of "
        "it or use short-lived certificates",
        "ingress-nginx": "the auth-tls-secret may carry a ca.crl next to ca.crt: the controller "
        "then sets ssl_crl (renew the secret when the CRL is renewed)",
        "envoy": "validation_context.crl: {filename: /etc/envoy/client-crl.pem}  (the CRLs of "
        "every CA in trusted_ca; add only_verify_leaf_cert_crl: true if intermediates have none)",
        "node": "https.createServer({ ..., crl: [fs.readFileSync('client-crl.pem')] })  "
        "(reload the server when the CRL is renewed)",
        "tomcat": 'certificateRevocationListFile="conf/client-crl.pem"  on the SSLHostConfig',
        "go": "crypto/tls checks no CRL: parse it (x509.ParseRevocationList) and refuse listed "
        "serials in tls.Config.VerifyConnection",
        "gunicorn": "gunicorn's --cert-reqs cannot load a CRL: use the ssl_context hook "
        "(gunicorn >= 21) to call context.load_verify_locations('client-crl.pem') and set "
        "context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF",
        "uvicorn": "uvicorn cannot load a CRL: terminate mTLS in a proxy that checks one "
        "(nginx ssl_crl, HAProxy crl-file)",
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
        "tomcat": '<SSLHostConfig protocols="TLSv1.2+TLSv1.3" ...>  (JSSE has TLS 1.3 from '
        "Java 11)",
        "go": "tls.Config{MinVersion: tls.VersionTLS12}  (and no MaxVersion: Go's default "
        "maximum is TLS 1.3)",
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
        "tomcat": "nothing to fix if every client speaks TLS 1.3; otherwise "
        '<SSLHostConfig protocols="TLSv1.2+TLSv1.3" ...>',
        "go": "nothing to fix if every client speaks TLS 1.3; otherwise "
        "tls.Config{MinVersion: tls.VersionTLS12}",
    },
    "per-location-client-auth": {
        "apache": "move SSLVerifyClient require (and SSLVerifyDepth) from <Location>/<Directory> "
        "up to the <VirtualHost>.  If only some paths need a certificate: SSLVerifyClient "
        "optional in the <VirtualHost> and, in the protected <Location>:\n"
        "Require expr %{SSL_CLIENT_VERIFY} == 'SUCCESS'",
        "nginx": "nginx cannot ask per location: ssl_verify_client optional; in the server and "
        "if ($ssl_client_verify != SUCCESS) { return 403; } in the protected location",
        "tomcat": 'certificateVerification="optional" on the SSLHostConfig instead of "none": '
        "the certificate then comes in the handshake, where the CLIENT-CERT login finds it "
        '(on TLS 1.3 JSSE cannot ask later and every client gets 401); or "required" to '
        "enforce it for the whole connector",
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
    "identity-header-trusted": {
        "nginx": "in every location that proxies: proxy_set_header X-SSL-Client-Verify "
        "$ssl_client_verify;  (and the same for each identity header the backend reads: "
        "X-SSL-Client-DN $ssl_client_s_dn, X-SSL-Client-Cert $ssl_client_escaped_cert): set "
        "them always, so a client's own value is overwritten, also where client auth is off",
        "apache": 'RequestHeader set X-SSL-Client-Verify "%{SSL_CLIENT_VERIFY}s"  (and '
        "RequestHeader unset for every identity header mod_ssl does not set) in every proxied "
        "<VirtualHost>",
        "haproxy": "http-request set-header X-SSL-Client-Verify %[ssl_c_verify]  and "
        "http-request del-header for every other identity header, before use_backend",
        "caddy": "reverse_proxy { header_up -X-SSL-Client-Verify ... }  (drop every identity "
        "header the client sent; set them from {http.request.tls.client.*} placeholders)",
        "traefik": "do not let backends read client headers as identity: use the "
        "passTLSClientCert middleware (it sets X-Forwarded-Tls-Client-Cert itself) and strip "
        'others with a headers middleware (customRequestHeaders: {X-SSL-Client-Verify: ""})',
        "ingress-nginx": "configure auth-tls-* on EVERY Ingress of the host (the controller then "
        "sets ssl-client-verify / ssl-client-subject-dn itself); on the others strip them: "
        "nginx.ingress.kubernetes.io/configuration-snippet: more_clear_input_headers "
        '"ssl-client-verify" "ssl-client-subject-dn" "ssl-client-cert";',
        "envoy": "HttpConnectionManager forward_client_cert_details: SANITIZE_SET  (or SANITIZE, "
        "the default): never APPEND_FORWARD / FORWARD_ONLY at the edge",
        "node": "the backend must not take X-SSL-* / X-Forwarded-Client-Cert from the request; "
        "read req.socket.authorized and req.socket.getPeerCertificate() where Node terminates "
        "TLS",
        "go": "the backend must not take identity headers from the request; read "
        "r.TLS.VerifiedChains where Go terminates TLS",
        "client": "the backend: trust identity headers only from the proxy's address, and only "
        "if the proxy always overwrites them",
    },
    "sni-host-bypass": {
        "nginx": "nginx answers 421 when the Host of a request names a server { } with "
        "ssl_verify_client other than the one the SNI chose; if this is nginx, check the "
        "proxy in front of it (the SNI it sends upstream, proxy_ssl_server_name)",
        "apache": "SSLStrictSNIVHostCheck on  (and SSLVerifyClient in every <VirtualHost> of "
        "the port that can reach the protected paths)",
        "haproxy": "route on the SNI, not on Host (use_backend protected if { ssl_fc_sni -i "
        "protected.example }), or refuse a mismatch: http-request set-var(txn.host) "
        "req.hdr(host),field(1,:),lower  then  http-request deny deny_status 421 unless "
        "{ ssl_fc_sni,lower,strcmp(txn.host) eq 0 }",
        "caddy": "remove strict_sni_host insecure_off (Caddy turns strict SNI/Host matching on by "
        "itself when client_auth is set): strict_sni_host on",
        "traefik": "tls.options.default.sniStrict: true  and the same clientAuth in the TLS "
        "options of every router of the host (Traefik answers 421 when Host and SNI select "
        "different TLS options)",
        "envoy": "do not share one route_config between filter chains with different "
        "require_client_certificate: give each filter chain (server_names) a route table with "
        "only its own virtual_hosts",
        "go": "in the handler (or a middleware): if r.TLS != nil && !strings.EqualFold("
        "r.TLS.ServerName, hostOnly(r.Host)) { w.WriteHeader(421); return }",
        "node": "compare req.socket.servername with the Host header and answer 421 when they "
        "differ (SNICallback picks the context, routing follows Host)",
    },
    "plaintext-accepted": {
        "nginx": "listen <port> ssl;  on every listen line of that port (a listen without ssl "
        "on the same port makes it plain text for those server { } blocks)",
        "apache": "SSLEngine on  in every <VirtualHost> of the port",
        "haproxy": "bind <addr>:<port> ssl crt ...  (a tcp-mode frontend that inspects "
        "req.ssl_hello_type must not send non-TLS traffic to a plain backend)",
        "caddy": "no http:// site on the TLS port (and no listener_wrappers that take plain HTTP "
        "other than http_redirect)",
        "envoy": "a tls_inspector listener filter with a filter_chain_match "
        "transport_protocol: tls on every chain, and no chain for raw_buffer",
        "client": "a service mesh in permissive mode takes both: switch the workload to strict "
        "mTLS (Istio PeerAuthentication mtls.mode: STRICT, Linkerd "
        "config.linkerd.io/default-inbound-policy: all-authenticated)",
    },
    "ca-names-empty": {
        "nginx": "ssl_client_certificate /etc/nginx/client-ca.pem;  (the CAs named to clients) "
        "rather than ssl_trusted_certificate alone, which trusts without naming",
        "apache": "SSLCACertificateFile (or SSLCADNRequestFile) with your client CA; an empty "
        "SSLCADNRequestFile names nothing",
        "haproxy": "bind ... ca-file /etc/haproxy/client-ca.pem  (ca-verify-file alone is not "
        "advertised)",
        "go": "put the CA in ClientCAs (Go names every subject of the pool), not only in a "
        "VerifyPeerCertificate check",
        "node": "give the CA in the ca option (Node names those CAs)",
        "tomcat": "put the client CA in the truststore (Tomcat names every CA in it)",
        "client": "clients that pick a certificate by CA name (Java) need one named; or pin "
        "the client certificate in the client's configuration",
    },
    "ca-names-public": {
        "nginx": "ssl_client_certificate /etc/nginx/client-ca.pem;  with ONLY your client CA "
        "(not /etc/ssl/certs/ca-certificates.crt)",
        "apache": "SSLCACertificateFile /etc/apache2/client-ca.pem  with ONLY your client CA "
        "(not the system bundle, and no SSLCACertificatePath /etc/ssl/certs)",
        "haproxy": "bind ... ca-file /etc/haproxy/client-ca.pem  with ONLY your client CA "
        "(not @system-ca)",
        "caddy": "client_auth { trusted_ca_cert_file /etc/caddy/client-ca.pem }  with ONLY your "
        "client CA",
        "traefik": "clientAuth.caFiles with ONLY your client CA",
        "ingress-nginx": "the auth-tls-secret's ca.crt with ONLY your client CA",
        "envoy": "validation_context.trusted_ca with ONLY your client CA (and "
        "match_typed_subject_alt_names to pin the clients)",
        "node": "ca: [your client CA]  (not tls.rootCertificates)",
        "tomcat": 'truststoreFile="conf/client-ca.p12" with ONLY your client CA: without '
        "truststoreFile (caCertificateFile alone is ignored on JSSE) Tomcat trusts the JRE's "
        "cacerts",
        "go": "ClientCAs: a new x509.CertPool with ONLY your client CA (not x509.SystemCertPool())",
        "gunicorn": "--ca-certs with ONLY your client CA",
        "uvicorn": "--ssl-ca-certs with ONLY your client CA",
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
