"""The reproduce commands: what a user pastes must mean what the probe did."""

from __future__ import annotations

import shlex
from pathlib import Path

from mtlscheck._commands import curl_command, openssl_command
from mtlscheck._tls import TLSSettings


def test_openssl_sends_sni_and_checks_the_name_for_host_names() -> None:
    s = TLSSettings(host="api.example", port=8443, cafile=Path("/ca.pem"), version="1.3")
    argv = shlex.split(openssl_command(s, None))
    assert argv[:4] == ["openssl", "s_client", "-connect", "api.example:8443"]
    assert argv[argv.index("-servername") + 1] == "api.example"
    assert argv[argv.index("-verify_hostname") + 1] == "api.example"
    assert "-tls1_3" in argv and argv[argv.index("-CAfile") + 1] == "/ca.pem"


def test_openssl_sends_no_sni_for_ip_literals_and_checks_the_ip() -> None:
    s = TLSSettings(host="::1", port=443)
    argv = shlex.split(openssl_command(s, None))
    assert argv[argv.index("-connect") + 1] == "[::1]:443"
    assert "-noservername" in argv and "-servername" not in argv
    assert argv[argv.index("-verify_ip") + 1] == "::1"


def test_curl_pins_the_version_and_maps_resolve() -> None:
    s = TLSSettings(host="api.example", port=443, address="10.0.0.7", version="1.2")
    argv = shlex.split(curl_command("https://api.example/", s, None))
    assert argv[0] == "curl" and argv[-1] == "https://api.example/"
    assert argv[argv.index("--tlsv1.2") + 1 : argv.index("--tlsv1.2") + 3] == ["--tls-max", "1.2"]
    assert argv[argv.index("--resolve") + 1] == "api.example:443:10.0.0.7"
    assert "--cert" not in argv  # no identity: the no-cert probe


def test_curl_brackets_ipv6_addresses_in_resolve() -> None:
    s = TLSSettings(host="api.example", port=443, address="::1")
    argv = shlex.split(curl_command("https://api.example/", s, None))
    assert argv[argv.index("--resolve") + 1] == "api.example:443:[::1]"
