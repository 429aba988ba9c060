"""The ``mtls_probe`` fixture: option layering, then one call into the library."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from mtlscheck._errors import MtlscheckError
from mtlscheck._model import RunResult
from mtlscheck._options import layer
from mtlscheck._pytest_support.markers import marker_options
from mtlscheck._pytest_support.pki import MtlsPKI
from mtlscheck._pytest_support.result import ProbeRun, ProbeRuns
from mtlscheck._pytest_support.server import registry
from mtlscheck.pytest_plugin import Settings, get_settings

__all__ = ["Prober"]

_IDENTITY_KEYS = ("cert", "key", "pki", "ca_cert", "ca_key", "identities")


_RUN_KEYS = ("concurrency", "per_host", "deadline", "save_certs")
"""Options of a whole run (:func:`mtlscheck.check_many`), not of each target."""


class Prober:
    """The ``mtls_probe`` fixture: ``mtls_probe([url ...], *probes, **check_options)``.

    Positional arguments with ``://`` (or a list of them) are URLs, the others probe names.
    No URL: the marker's target, else ``--mtls-target`` and the URLs of ``--mtls-targets``.
    One URL gives a :class:`ProbeRun`; several (a list, a second URL, ``--mtls-targets``) a
    :class:`ProbeRuns`, probed concurrently in one bounded pool (``concurrency=``,
    ``per_host=``, ``deadline=`` bound it as in :func:`mtlscheck.check_many`).

    Option layers, lowest first: ``--mtls-*`` settings, ``@pytest.mark.mtls`` keyword
    arguments, the call's keyword arguments.  With no identity option at any layer, the
    session's ``mtls_pki`` provides the identities; against a server started by
    ``mtls_server`` its CA verifies the server and its mode picks the server profile.
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request

    def __call__(self, *args: str | Sequence[str], **options: Any) -> ProbeRun | ProbeRuns:
        settings: Settings = get_settings(self.request.config)
        marker = marker_options(self.request.node)
        names: list[str] = []
        urls: list[str] = []
        many = False
        for arg in args:
            if isinstance(arg, str):
                (urls if "://" in arg else names).append(arg)
            else:  # a list or tuple of URLs
                many = True
                urls.extend(arg)
        if not urls:
            urls, many = self._default_urls(marker.get("target"), settings)
        many = many or len(urls) > 1
        layered = {
            **{k: v for k, v in marker.items() if k not in ("target", "server_mode")},
            **options,
        }
        if names:
            layered["probes"] = names
        try:
            if not many:
                from mtlscheck._api import check

                layered.pop("per_host", None)  # one target: one host
                if "concurrency" in layered:  # check()'s name for the pool size
                    layered.setdefault("workers", layered.pop("concurrency"))
                return ProbeRun.of(check(urls[0], **self._options(urls[0], settings, layered)))
            return ProbeRuns.of(self._many(urls, settings, layered))
        except MtlscheckError as exc:  # bad options or files: the message says it all
            pytest.fail(f"mtls_probe: {exc}", pytrace=False)

    @staticmethod
    def _default_urls(marked: Any, settings: Settings) -> tuple[list[str], bool]:
        if isinstance(marked, str):
            return [marked], False
        if isinstance(marked, list | tuple) and marked:
            return [str(u) for u in marked], True
        if settings.target_list:
            first = [settings.target] if settings.target is not None else []
            return list(dict.fromkeys([*first, *settings.target_list])), True
        if settings.target is not None:
            return [settings.target], False
        # A missing option, not a bug in the test: one line, no traceback.
        pytest.fail(
            "mtls_probe: no target URL: give --mtls-target URL (or MTLSCHECK_TARGET, "
            "ini mtls_target, @pytest.mark.mtls(target=...)), --mtls-targets FILE, or pass a URL",
            pytrace=False,
        )

    def _options(self, url: str, settings: Settings, layered: dict[str, Any]) -> dict[str, Any]:
        """The ``check()`` options for ``url``: our own server brings its PKI and profile."""
        srv = next((s for u, s in registry(self.request.config).items() if url.startswith(u)), None)
        base = settings.check_kwargs()
        if srv is not None:  # our own server: its PKI, not the staging credentials
            base = {k: v for k, v in base.items() if k in ("timeout", "tls")}
            base["server"] = srv.profile
        # The one layering rule (mtlscheck._options.layer): a test's option replaces the
        # session's; None leaves the session's value in place.
        kw: dict[str, Any] = {
            k: v
            for k, (v, _) in layer(
                [(base, "settings"), (layered, "test")], merged=frozenset()
            ).items()
        }
        if not any(kw.get(k) is not None for k in _IDENTITY_KEYS):
            pki: MtlsPKI = srv.pki if srv is not None else self.request.getfixturevalue("mtls_pki")
            kw["pki"] = pki.directory
        elif srv is not None and kw.get("cacert") is None and not kw.get("insecure"):
            kw["cacert"] = srv.ca_cert
        return kw

    def _many(self, urls: list[str], settings: Settings, layered: dict[str, Any]) -> RunResult:
        """All URLs in one bounded pool: :func:`check_many` when they share their options, the
        same engine with per-URL options when some are our own servers (their PKI, profile)."""
        from mtlscheck._api import check_many, run_many

        run = {k: layered.pop(k) for k in _RUN_KEYS if k in layered}
        if "workers" in layered:  # check()'s name for the pool size
            run.setdefault("concurrency", layered.pop("workers"))
        per_url = [self._options(u, settings, layered) for u in urls]
        if all(kw == per_url[0] for kw in per_url):
            return check_many(urls, **run, **per_url[0])
        return run_many(list(zip(urls, per_url, strict=True)), **run)
