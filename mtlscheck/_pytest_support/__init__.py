"""The pytest plugin's machinery, imported only when a fixture or a suite file is used.

:mod:`mtlscheck.pytest_plugin` is loaded in every pytest session and must stay light; it
imports these modules on first use.  One module per job, each building on the public engine:

* :mod:`.pki` - ``mtls_pki``: the session's test PKI and minted clients;
* :mod:`.server` - ``mtls_server`` / ``mtls_server_factory``: reference servers;
* :mod:`.result` - ``ProbeRun`` and the text of a failed assertion on it;
* :mod:`.probe` - ``mtls_probe``: option layering, then ``check()`` / ``check_many()``;
* :mod:`.suite` - ``mtls*.toml`` suite files collected as test items;
* :mod:`.markers` - the ``mtls`` marker, read once for all of them.

This package module imports nothing itself (the plugin's hooks look a submodule up in
``sys.modules`` to know whether it was used); its names resolve on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "MintedIdentity": "pki",
    "MtlsPKI": "pki",
    "MtlsServer": "server",
    "ServerFactory": "server",
    "server_options": "server",
    "ProbeRun": "result",
    "ProbeRuns": "result",
    "assertrepr": "result",
    "Prober": "probe",
    "SuiteFile": "suite",
    "SuiteItem": "suite",
    "TargetNode": "suite",
    "collection_summary": "suite",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
