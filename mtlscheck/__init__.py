"""mtlscheck: verify and diagnose mutual TLS (client-certificate authentication).

The public API lives in private modules and is re-exported here.  Names are resolved lazily
(PEP 562) so that ``import mtlscheck`` - and the pytest plugin, which pytest loads in every
session - costs almost nothing until a probe actually runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mtlscheck._version import __version__

if TYPE_CHECKING:
    from mtlscheck._api import check, check_many
    from mtlscheck._errors import InputError, MtlscheckError, TargetError, UsageError
    from mtlscheck._expect import Expectation, ServerProfile
    from mtlscheck._identity import ClientIdentity, load_identity
    from mtlscheck._model import (
        AuthVerdict,
        CertInfo,
        Commands,
        Finding,
        HandshakeFacts,
        Outcome,
        OutcomeKind,
        Phase,
        ProbeResult,
        RunResult,
        Severity,
        TargetResult,
        Verdict,
    )
    from mtlscheck._options import CheckOptions
    from mtlscheck._pki import PKI, init_pki
    from mtlscheck._probes import CATALOGUE
    from mtlscheck._server import ReferenceServer, ServerMode

__all__ = [
    "CATALOGUE",
    "PKI",
    "AuthVerdict",
    "CertInfo",
    "CheckOptions",
    "ClientIdentity",
    "Commands",
    "Expectation",
    "Finding",
    "HandshakeFacts",
    "InputError",
    "MtlscheckError",
    "Outcome",
    "OutcomeKind",
    "Phase",
    "ProbeResult",
    "ReferenceServer",
    "RunResult",
    "ServerMode",
    "ServerProfile",
    "Severity",
    "TargetError",
    "TargetResult",
    "UsageError",
    "Verdict",
    "__version__",
    "check",
    "check_many",
    "init_pki",
    "load_identity",
]

_WHERE = {
    "check": "_api",
    "check_many": "_api",
    "CheckOptions": "_options",
    "InputError": "_errors",
    "MtlscheckError": "_errors",
    "TargetError": "_errors",
    "UsageError": "_errors",
    "Expectation": "_expect",
    "ServerProfile": "_expect",
    "ClientIdentity": "_identity",
    "load_identity": "_identity",
    "AuthVerdict": "_model",
    "CertInfo": "_model",
    "Commands": "_model",
    "Finding": "_model",
    "HandshakeFacts": "_model",
    "Outcome": "_model",
    "OutcomeKind": "_model",
    "Phase": "_model",
    "ProbeResult": "_model",
    "RunResult": "_model",
    "Severity": "_model",
    "TargetResult": "_model",
    "Verdict": "_model",
    "PKI": "_pki",
    "init_pki": "_pki",
    "CATALOGUE": "_probes",
    "ReferenceServer": "_server",
    "ServerMode": "_server",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mtlscheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"mtlscheck.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
