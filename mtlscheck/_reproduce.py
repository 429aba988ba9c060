"""The reproduce commands of one probe, built when a report asks for them.

A probe's ``curl`` and ``openssl s_client`` lines are about 1 kB of text; building them for every
probe of a fleet run cost CPU in the probe workers and held about 9 kB per target in memory,
while most of them are never shown (the console prints them only for failing probes).  A probe
therefore keeps the recipe - the frozen settings and identity it ran with - and the text is made
from it on access, by :mod:`mtlscheck._commands`, the one place that knows the command syntax.
"""

from __future__ import annotations

from dataclasses import dataclass

from mtlscheck._identity import ClientIdentity
from mtlscheck._tls import TLSSettings

__all__ = ["ProbeCommands"]


@dataclass(frozen=True, slots=True)
class ProbeCommands:
    """What a probe sent, enough to print the commands that send it again."""

    url: str
    settings: TLSSettings
    identity: ClientIdentity | None
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    plain_http: bool = False

    @property
    def curl(self) -> str:
        from mtlscheck._commands import curl_command

        try:
            return curl_command(
                self.url,
                self.settings,
                self.identity,
                method=self.method,
                headers=self.headers,
                plain_http=self.plain_http,
            )
        except Exception as exc:
            return _broken(exc)

    @property
    def openssl(self) -> str:
        """Empty for the ``plaintext`` probe: there is no handshake to reproduce."""
        if self.plain_http:
            return ""
        from mtlscheck._commands import openssl_command

        try:
            return openssl_command(self.settings, self.identity)
        except Exception as exc:
            return _broken(exc)


def _broken(exc: Exception) -> str:
    """The text is built while a report is written: a bug in building it must cost that one
    line, not the report (the verdicts are already decided and must still reach the user).
    A shell comment, so pasting it runs nothing."""
    return f"# mtlscheck could not build this command (a bug): {type(exc).__name__}: {exc}"
