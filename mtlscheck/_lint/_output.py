"""Lint reports: console, JSON and SARIF 2.1.0 (code-scanning tools show the findings on the
configuration lines themselves).

Config files are the user's, but paths and names from them may carry control characters: the
console report escapes them, like every other report of mtlscheck.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from mtlscheck._lint._model import LintFinding, LintResult
from mtlscheck._model import Severity
from mtlscheck._version import __version__

__all__ = ["FORMATS", "render"]

FORMATS = ("console", "json", "sarif")

SUMMARY = {
    "client-auth-not-requested": "Client authentication is off: no client certificate is requested",
    "client-auth-optional": "A client certificate is requested but not required, and the "
    "verify result is not checked",
    "per-location-client-auth": "Client certificate requested per location (renegotiation / "
    "post-handshake auth)",
    "valid-cert-rejected": "Valid client certificates will be refused",
    "ca-names-exclude-client-issuer": "The advertised CA names do not include the client "
    "certificate's issuer",
    "verify-depth-too-small": "The verify depth is shorter than the client chain",
    "expired-cert-accepted": "Expired client certificates are accepted",
    "not-yet-valid-cert-accepted": "Not-yet-valid client certificates are accepted",
    "foreign-ca-accepted": "Client certificates from CAs you do not control are accepted",
    "client-eku-not-enforced": "Certificates without clientAuth extended key usage are accepted",
    "revocation-not-checked": "Revoked client certificates are accepted",
    "chain-incomplete": "Clients must send their intermediate CA",
    "tls13-not-offered": "TLS 1.3 is not offered",
    "not-tls": "The listener does not speak TLS",
    "client-cert-errors-not-logged": "The log level hides client-certificate errors",
    "referenced-file-unreadable": "A CA or CRL file named in the configuration cannot be read",
}
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _safe(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _counts(result: LintResult) -> dict[str, int]:
    return {
        str(s): sum(1 for f in result.findings if f.severity is s)
        for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)
    }


def render_console(result: LintResult, out: TextIO) -> None:
    for f in result.findings:
        where = str(f.loc) if f.loc is not None else str(result.config)
        out.write(_safe(f"{where}: {f.severity}: {f.code}: {f.message}") + "\n")
        if f.site:
            out.write(_safe(f"    in {f.site}") + "\n")
        if f.fix:
            fix = f.fix.replace("\n", "\n         ")
            out.write(_safe(f"    fix: {fix}") + "\n")
    c = _counts(result)
    sites = len(result.sites)
    out.write(
        _safe(
            f"mtlscheck lint: {result.server} configuration {result.config} "
            f"({len(result.files)} file(s), {sites} TLS site(s)"
            + (f", client certificate {result.client_cert}" if result.client_cert else "")
            + f"): {c['error']} error(s), {c['warning']} warning(s), {c['info']} info"
        )
        + "\n"
    )
    if not sites:
        out.write("mtlscheck lint: no TLS server/virtual host/bind line found\n")


def to_dict(result: LintResult) -> dict[str, Any]:
    return {
        "schema": 1,
        "tool": "mtlscheck",
        "version": __version__,
        "command": "lint",
        "ok": result.exit_code == 0,
        "exit_code": result.exit_code,
        "config": str(result.config),
        "server": str(result.server),
        "files": [str(p) for p in result.files],
        "client_cert": None if result.client_cert is None else str(result.client_cert),
        "sites": [
            {"name": s.name, "file": str(s.loc.file), "line": s.loc.line} for s in result.sites
        ],
        "counts": _counts(result),
        "findings": [f.to_dict() for f in result.findings],
    }


def _uri(path: Path) -> tuple[str, str | None]:
    """(uri, uriBaseId): relative to the working directory when the file is below it (what
    code-scanning services expect), an absolute file URI otherwise."""
    absolute = path if path.is_absolute() else Path.cwd() / path
    try:
        rel = absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute.as_uri(), None
    return quote(rel.as_posix()), "%SRCROOT%"


def _location(f: LintFinding, result: LintResult) -> dict[str, Any]:
    path = f.loc.file if f.loc is not None else result.config
    uri, base = _uri(path)
    artifact: dict[str, Any] = {"uri": uri}
    if base is not None:
        artifact["uriBaseId"] = base
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if f.loc is not None:
        physical["region"] = {"startLine": f.loc.line}
    return {"physicalLocation": physical}


def to_sarif(result: LintResult) -> dict[str, Any]:
    codes = list(dict.fromkeys(f.code for f in result.findings))
    rules = [
        {
            "id": code,
            "shortDescription": {"text": SUMMARY.get(code, code)},
            "helpUri": "https://pypi.org/project/mtlscheck/",
        }
        for code in codes
    ]
    results = []
    for f in result.findings:
        text = f.message + (f"\nFix: {f.fix}" if f.fix else "")
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": codes.index(f.code),
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": text},
                "locations": [_location(f, result)],
                "properties": {"site": f.site},
            }
        )
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "mtlscheck",
                "version": __version__,
                "informationUri": "https://pypi.org/project/mtlscheck/",
                "rules": rules,
            }
        },
        "results": results,
    }
    if any(_uri(p)[1] for p in result.files):
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}}
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    }


def render(result: LintResult, fmt: str, out: TextIO) -> None:
    if fmt == "console":
        render_console(result, out)
    elif fmt == "json":
        json.dump(to_dict(result), out, indent=2)
        out.write("\n")
    else:
        json.dump(to_sarif(result), out, indent=2)
        out.write("\n")
