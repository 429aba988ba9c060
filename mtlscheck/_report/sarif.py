"""SARIF 2.1.0 report (``--format sarif``), for code-scanning views (GitHub, GitLab, Azure).

Each finding of each target is a ``result``; the rules are the finding codes, with a one-line
description and help that carries the fix for every server the run's findings name; the
location is the target URL.  Each result also carries the target's layered client-auth verdict
in its property bag, and the run's property bag lists every target with its verdict and counts
(a target with no finding still shows up there).

``partialFingerprints`` (target URL + code) let a code-scanning service follow one problem
across runs, so a fixed server closes its alert.  Text is redacted and escaped like every
other human-facing report (:func:`~mtlscheck._report._safe.for_display`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, TextIO

from mtlscheck._model import Finding, RunResult, Severity, TargetResult
from mtlscheck._report._base import count
from mtlscheck._report._safe import fence_for, for_display, markdown_text
from mtlscheck._report._text import fixes_for_profile

__all__ = ["SARIF_SCHEMA", "SarifReporter", "rule_summary", "to_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://pypi.org/project/mtlscheck/"

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_PROBLEM = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "recommendation"}

# Codes that only probes find (lint's own table covers the codes both share).
_PROBE_SUMMARY = {
    "client-ca-incomplete": "The client CA file holds the intermediate but not its root",
    "client-auth-checked-over-http": "Client authentication is checked over HTTP, not required "
    "in TLS",
    "tls12-not-offered": "TLS 1.2 is not offered",
    "server-cert-untrusted": "The server certificate is not trusted by the client",
    "server-hostname-mismatch": "The server certificate does not match the host name",
    "connection-refused": "Nothing listens on the target's port",
    "timeout": "The target did not answer in time",
    "target-unreachable": "The target cannot be reached (DNS, route, or no TLS server)",
    "client-cert-rejected-after-handshake": "TLS 1.3 refuses the client certificate after the "
    "handshake",
    "identity-header-trusted": "Client-supplied identity headers are trusted by the backend",
    "sni-host-bypass": "Client authentication follows the SNI name, routing the Host header",
    "plaintext-accepted": "The TLS port also serves plain HTTP",
    "ca-names-empty": "The certificate request names no acceptable CA",
    "ca-names-public": "Public web CAs are accepted as client CAs",
}


def rule_summary(code: str) -> str:
    """A one-line description of the finding ``code`` (the code itself if none is known)."""
    from mtlscheck._lint._output import SUMMARY

    return SUMMARY.get(code) or _PROBE_SUMMARY.get(code) or code


def _fingerprint(target: str, code: str) -> str:
    return hashlib.sha256(f"{target}\x00{code}".encode()).hexdigest()


def _rule(code: str, found: list[Finding]) -> dict[str, Any]:
    """The rule for ``code``: description, help with the fixes the run's findings name."""
    summary = rule_summary(code)
    fixes: dict[str, str] = {}
    for f in found:
        for server, text in f.fixes:
            fixes.setdefault(server, text)
    worst = min((f.severity for f in found), key=list(_LEVEL).index)
    help_text = [summary, "", found[0].message]
    md = [f"**{markdown_text(summary)}**", "", markdown_text(found[0].message)]
    if fixes:
        help_text += ["", "Fixes:"]
        md += ["", "Fixes:", ""]
        for server, fix in fixes.items():
            help_text.append(f"- {server}: {fix}")
            fence = fence_for(fix)
            md += [f"- {markdown_text(server)}:", "", f"  {fence}"]
            md += [f"  {line}" for line in fix.splitlines()]
            md += [f"  {fence}", ""]
    return {
        "id": code,
        "name": "".join(part.capitalize() for part in code.split("-")),
        "shortDescription": {"text": summary},
        "fullDescription": {"text": found[0].message},
        "helpUri": INFO_URI,
        "help": {"text": "\n".join(help_text).rstrip(), "markdown": "\n".join(md).rstrip()},
        "defaultConfiguration": {"level": _LEVEL[worst]},
        "properties": {"tags": ["security", "mtls", "tls"], "problem.severity": _PROBLEM[worst]},
    }


def _target_props(t: TargetResult) -> dict[str, Any]:
    c = count(t)
    return {
        "target": t.target,
        "verdict": str(t.auth_verdict),
        "verdict_reason": t.auth_reason,
        "server_profile": t.server_profile,
        "passed": c.passed,
        "failed": c.failed,
        "skipped": c.skipped,
        "errors": c.errors,
    }


def _result(t: TargetResult, f: Finding, rule_index: int) -> dict[str, Any]:
    fixes = fixes_for_profile(f.fixes, t.server_profile)
    return {
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": f.message},
        "locations": [
            {
                "physicalLocation": {"artifactLocation": {"uri": t.target}},
                "message": {"text": f"client auth: {t.auth_verdict}"},
            }
        ],
        "partialFingerprints": {"mtlscheckTargetCode/v1": _fingerprint(t.target, f.code)},
        "properties": {
            "target": t.target,
            "verdict": str(t.auth_verdict),
            "verdict_reason": t.auth_reason,
            "server_profile": t.server_profile,
            "evidence": list(f.evidence),
            "fixes": {server: text for server, text in fixes},
        },
    }


def to_sarif(run: RunResult) -> dict[str, Any]:
    """The SARIF log as a dict (credentials redacted, server text escaped and capped)."""
    from mtlscheck._version import __version__

    run = for_display(run)
    found: dict[str, list[Finding]] = {}
    for t in run.targets:
        for f in t.findings:
            found.setdefault(f.code, []).append(f)
    codes = list(found)
    results = [_result(t, f, codes.index(f.code)) for t in run.targets for f in t.findings]
    sarif_run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "mtlscheck",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFO_URI,
                "rules": [_rule(code, found[code]) for code in codes],
            }
        },
        "invocations": [{"executionSuccessful": not run.internal_error}],
        "results": results,
        "properties": {"targets": [_target_props(t) for t in run.targets]},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [sarif_run]}


class SarifReporter:
    name = "sarif"

    def render(self, run: RunResult, out: TextIO, *, verbose: bool = False) -> None:
        # ``verbose`` changes nothing: every finding is a result either way.
        json.dump(to_sarif(run), out, indent=2)
        out.write("\n")
