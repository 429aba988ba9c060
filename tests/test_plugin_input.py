"""The pytest plugin and bad input: what it collects, and usage errors without tracebacks.

pytester projects, as a user would have them: an application's own ``mtls*.toml`` settings
next to tests, tests that need ``--mtls-target`` and lack it, bad ``--mtls-*`` options.
"""

from __future__ import annotations

import socket

import pytest

pytest_plugins = ["pytester"]

NEEDS_TARGET = """
def test_gateway_rejects(mtls_probe):
    assert mtls_probe("no-cert") == "rejected"
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_application_settings_named_like_a_suite_are_left_alone(
    pytester: pytest.Pytester,
) -> None:
    pytester.mkdir("config")
    (pytester.path / "config" / "mtls_settings.toml").write_text(
        '[mtls]\nverify = true\nca = "ca.pem"\n', encoding="utf-8"
    )
    pytester.makepyfile(test_app="def test_ok():\n    pass\n")
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    assert res.ret == 0
    assert "mtls_settings" not in res.stdout.str()


def test_a_suite_is_still_collected(pytester: pytest.Pytester) -> None:
    port = _closed_port()
    pytester.makefile(
        ".toml",
        mtls_down=f'# a suite\n[[targets]]\nurl = "https://127.0.0.1:{port}/"\n'
        'probes = ["no-cert"]\ntls = "1.3"\ntimeout = 2\n',
    )
    res = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    res.stdout.fnmatch_lines(["mtls_down.toml::127.0.0.1::no-cert[[]tls1.3[]]"])


def test_missing_target_is_one_line_not_a_traceback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_gateway=NEEDS_TARGET)
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    out = res.stdout.str()
    assert "Traceback" not in out and "raise " not in out and "_pytest_support" not in out
    res.stdout.fnmatch_lines(["mtls_probe: no target URL: give --mtls-target URL*"])


def test_bad_check_option_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_gateway="def test_x(mtls_probe):\n"
        "    mtls_probe('https://127.0.0.1:1/', 'no-cert', timeout=float('nan'))\n"
    )
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    assert "_api.py" not in res.stdout.str()
    res.stdout.fnmatch_lines(["mtls_probe: --timeout must be a positive number*"])


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("--mtls-target=https://[::1/", "bad URL"),
        ("--mtls-target=http://example.test/", "not an https:// URL"),
        ("--mtls-timeout=nan", "timeout must be positive"),
        ("--mtls-timeout=-3", "timeout must be positive"),
    ],
)
def test_bad_plugin_option_is_a_usage_error(
    pytester: pytest.Pytester, option: str, says: str
) -> None:
    pytester.makepyfile(test_gateway=NEEDS_TARGET)
    res = pytester.runpytest("-p", "no:cacheprovider", option)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines([f"ERROR: *{says}*"])
    assert "Traceback" not in res.stderr.str() + res.stdout.str()


def test_suite_with_bad_identity_in_a_later_target_fails_collection(
    pytester: pytest.Pytester,
) -> None:
    port = _closed_port()
    garbage = pytester.path / "garbage.pem"
    garbage.write_bytes(b"not a certificate\n")
    pytester.makefile(
        ".toml",
        mtls_two=f'[[targets]]\nname = "one"\nurl = "https://127.0.0.1:{port}/"\n\n'
        f'[[targets]]\nname = "two"\nurl = "https://127.0.0.1:{port}/"\n'
        f'identity = {{ cert = "{garbage}", key = "{garbage}" }}\n',
    )
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["*mtls_two.toml:5: target two: *garbage.pem*"])
    assert "Traceback" not in res.stdout.str()


@pytest.mark.parametrize(
    ("source", "says"),
    [
        (
            "import pytest\n\n@pytest.mark.mtls('https://a.test/', 'https://b.test/')\n"
            "def test_x(mtls_probe):\n    mtls_probe('no-cert')\n",
            "@pytest.mark.mtls takes one positional argument*",
        ),
        (
            "def test_x(mtls_server_factory):\n    mtls_server_factory('iis')\n",
            "mtls_server mode must be nginx, apache or optional, not 'iis'",
        ),
        (
            "import pytest\n\n@pytest.mark.parametrize('mtls_server', [42], indirect=True)\n"
            "def test_x(mtls_server):\n    pass\n",
            "mtls_server param must be a mode or a dict, not 42",
        ),
    ],
)
def test_mistakes_in_test_options_are_one_line(
    pytester: pytest.Pytester, source: str, says: str
) -> None:
    pytester.makepyfile(test_opts=source)
    res = pytester.runpytest("-p", "no:cacheprovider")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    out = res.stdout.str()
    assert "_pytest_support" not in out and "Traceback" not in out, out
    res.stdout.fnmatch_lines([says])
