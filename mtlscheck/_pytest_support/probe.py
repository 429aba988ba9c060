"""The ``mtls_probe`` fixture: option layering, then one call into the library."""

from __future__ import annotations

from typing import Any

import pytest

from mtlscheck._errors import MtlscheckError
from mtlscheck._pytest_support.markers import marker_options
from mtlscheck._pytest_support.pki import MtlsPKI
from mtlscheck._pytest_support.result import ProbeRun
from mtlscheck._pytest_support.server import registry
from mtlscheck.pytest_plugin import Settings, get_settings

__all__ = ["Prober"]

_IDENTITY_KEYS = ("cert", "key", "pki", "ca_cert", "ca_key", "identities")


class Prober:
    """The ``mtls_probe`` fixture: ``mtls_probe([url], *probes, **check_options)``.

    Option layers, lowest first: ``--mtls-*`` settings, ``@pytest.mark.mtls`` keyword
    arguments, the call's keyword arguments.  A first argument without ``://`` is a probe name
    (the URL then comes from the marker or ``--mtls-target``).  With no identity option at any
    layer, the session's ``mtls_pki`` provides the identities; against a server started by
    ``mtls_server`` its CA verifies the server and its mode picks the server profile.
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request

    def __call__(self, target: str | None = None, /, *probes: str, **options: Any) -> ProbeRun:
        from mtlscheck._api import check

        config = self.request.config
        settings: Settings = get_settings(config)
        marker = marker_options(self.request.node)
        names = list(probes)
        url: str | None = None
        if target is not None:
            if "://" in target:
                url = target
            else:
                names.insert(0, target)
        url = url or marker.get("target") or settings.target
        if url is None:
            # A missing option, not a bug in the test: one line, no traceback.
            pytest.fail(
                "mtls_probe: no target URL: give --mtls-target URL (or MTLSCHECK_TARGET, "
                "ini mtls_target, @pytest.mark.mtls(target=...)) or pass a URL",
                pytrace=False,
            )
        srv = next((s for u, s in registry(config).items() if url.startswith(u)), None)
        base = settings.check_kwargs()
        if srv is not None:  # our own server: its PKI, not the staging credentials
            base = {k: v for k, v in base.items() if k in ("timeout", "tls")}
            base["server"] = srv.profile
        kw: dict[str, Any] = {
            **base,
            **{k: v for k, v in marker.items() if k not in ("target", "server_mode")},
            **options,
        }
        if names:
            kw["probes"] = names
        if not any(kw.get(k) is not None for k in _IDENTITY_KEYS):
            pki: MtlsPKI = srv.pki if srv is not None else self.request.getfixturevalue("mtls_pki")
            kw["pki"] = pki.directory
        elif srv is not None and kw.get("cacert") is None and not kw.get("insecure"):
            kw["cacert"] = srv.ca_cert
        try:
            result = check(url, **kw)
        except MtlscheckError as exc:  # bad options or files: the message says it all
            pytest.fail(f"mtls_probe: {exc}", pytrace=False)
        return ProbeRun.of(result)
