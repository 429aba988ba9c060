"""Findings: rules over all probe results and handshake facts of one target (DESIGN.md §5)."""

from __future__ import annotations

from collections.abc import Sequence

from mtlscheck._expect import ServerProfile
from mtlscheck._model import Finding, ProbeResult

__all__ = ["diagnose"]


def diagnose(
    results: Sequence[ProbeResult],
    *,
    profile: ServerProfile = ServerProfile.GENERIC,
    unsupported: tuple[tuple[str, str], ...] = (),
    insecure: bool = False,
) -> tuple[Finding, ...]:
    """Findings for one target, most severe first."""
    return ()
