"""``--format sarif``: SARIF 2.1.0 that code-scanning services accept.

The structure is checked against the SARIF 2.1.0 schema's required properties, enums and
closed objects, transcribed below for the objects mtlscheck writes (sarifLog, run, tool,
toolComponent, reportingDescriptor, reportingConfiguration, multiformatMessageString, result,
message, location, physicalLocation, artifactLocation, invocation, propertyBag).  Every
property present must be one the schema defines for that object (they are all
``additionalProperties: false`` except the property bag), every required one must be there.
"""

from __future__ import annotations

import io
import json
from typing import Any

from test_report import FINDINGS, OK_TARGET, RUN, TARGET

from mtlscheck._model import AuthVerdict, Finding, RunResult, Severity, TargetResult
from mtlscheck._report import get_reporter
from mtlscheck._report.sarif import rule_summary


def _names(text: str) -> set[str]:
    return set(text.split())


# name -> (required, allowed properties, {property: sub-schema name or "[name]" for arrays})
SCHEMA: dict[str, tuple[set[str], set[str], dict[str, str]]] = {
    "sarifLog": (
        {"version", "runs"},
        _names("$schema version runs inlineExternalProperties properties"),
        {"runs": "[run]", "properties": "propertyBag"},
    ),
    "run": (
        {"tool"},
        _names(
            "tool invocations conversion language versionControlProvenance originalUriBaseIds "
            "artifacts logicalLocations graphs results automationDetails runAggregates "
            "baselineGuid redactionTokens defaultEncoding defaultSourceLanguage "
            "newlineSequences columnKind externalPropertyFileReferences threadFlowLocations "
            "taxonomies addresses translations policies webRequests webResponses "
            "specialLocations properties"
        ),
        {
            "tool": "tool",
            "invocations": "[invocation]",
            "results": "[result]",
            "properties": "propertyBag",
        },
    ),
    "tool": ({"driver"}, _names("driver extensions properties"), {"driver": "toolComponent"}),
    "toolComponent": (
        {"name"},
        _names(
            "guid name organization product productSuite shortDescription fullDescription "
            "fullName version semanticVersion dottedQuadFileVersion releaseDateUtc downloadUri "
            "informationUri globalMessageStrings notifications rules taxa locations language "
            "contents isComprehensive localizedDataSemanticVersion "
            "minimumRequiredLocalizedDataSemanticVersion associatedComponent "
            "translationMetadata supportedTaxonomies properties"
        ),
        {"rules": "[reportingDescriptor]", "properties": "propertyBag"},
    ),
    "reportingDescriptor": (
        {"id"},
        _names(
            "id deprecatedIds guid deprecatedGuids name deprecatedNames shortDescription "
            "fullDescription messageStrings defaultConfiguration helpUri help relationships "
            "properties"
        ),
        {
            "shortDescription": "multiformatMessageString",
            "fullDescription": "multiformatMessageString",
            "help": "multiformatMessageString",
            "defaultConfiguration": "reportingConfiguration",
            "properties": "propertyBag",
        },
    ),
    "reportingConfiguration": (
        set(),
        _names("enabled level rank parameters properties"),
        {"properties": "propertyBag"},
    ),
    "multiformatMessageString": (
        {"text"},
        _names("text markdown properties"),
        {"properties": "propertyBag"},
    ),
    "result": (
        {"message"},
        _names(
            "ruleId ruleIndex rule kind level message analysisTarget locations guid "
            "correlationGuid occurrenceCount partialFingerprints fingerprints stacks codeFlows "
            "graphs graphTraversals relatedLocations suppressions baselineState rank "
            "attachments hostedViewerUri workItemUris provenance fixes taxa webRequest "
            "webResponse properties"
        ),
        {"message": "message", "locations": "[location]", "properties": "propertyBag"},
    ),
    "message": (
        set(),  # anyOf: text or id (checked below)
        _names("text markdown id arguments properties"),
        {"properties": "propertyBag"},
    ),
    "location": (
        set(),
        _names("id physicalLocation logicalLocations message annotations relationships properties"),
        {"physicalLocation": "physicalLocation", "message": "message", "properties": "propertyBag"},
    ),
    "physicalLocation": (
        set(),  # anyOf: address or artifactLocation (checked below)
        _names("address artifactLocation region contextRegion properties"),
        {"artifactLocation": "artifactLocation", "properties": "propertyBag"},
    ),
    "artifactLocation": (
        set(),
        _names("uri uriBaseId index description properties"),
        {"properties": "propertyBag"},
    ),
    "invocation": (
        {"executionSuccessful"},
        _names(
            "commandLine arguments responseFiles startTimeUtc endTimeUtc exitCode "
            "ruleConfigurationOverrides notificationConfigurationOverrides "
            "toolExecutionNotifications toolConfigurationNotifications exitCodeDescription "
            "exitSignalName exitSignalNumber processStartFailureMessage executionSuccessful "
            "machine account processId executableLocation workingDirectory "
            "environmentVariables stdin stdout stderr stdoutStderr properties"
        ),
        {"properties": "propertyBag"},
    ),
}
LEVELS = {"none", "note", "warning", "error"}


def check(obj: Any, kind: str, path: str = "$") -> list[str]:
    """Every violation of the transcribed schema in ``obj`` (an empty list when it conforms)."""
    if kind == "propertyBag":
        errs = [] if isinstance(obj, dict) else [f"{path}: not an object"]
        tags = obj.get("tags", []) if isinstance(obj, dict) else []
        if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            errs.append(f"{path}.tags: not a list of strings")
        elif len(set(tags)) != len(tags):
            errs.append(f"{path}.tags: not unique")
        return errs
    if not isinstance(obj, dict):
        return [f"{path}: not an object ({kind})"]
    required, allowed, subs = SCHEMA[kind]
    errs = [f"{path}: {kind} lacks {r!r}" for r in sorted(required - obj.keys())]
    errs += [f"{path}: {kind} has no property {k!r}" for k in sorted(obj.keys() - allowed)]
    if kind == "message" and not ("text" in obj or "id" in obj):
        errs.append(f"{path}: message needs text or id")
    if kind == "physicalLocation" and not ("address" in obj or "artifactLocation" in obj):
        errs.append(f"{path}: physicalLocation needs address or artifactLocation")
    level = obj.get("level", "none")
    if kind in ("result", "reportingConfiguration") and level not in LEVELS:
        errs.append(f"{path}.level: {obj['level']!r} not in {sorted(LEVELS)}")
    if kind == "sarifLog" and obj.get("version") != "2.1.0":
        errs.append(f"{path}.version: must be '2.1.0'")
    for key, sub in subs.items():
        if key not in obj:
            continue
        if sub.startswith("["):
            if not isinstance(obj[key], list):
                errs.append(f"{path}.{key}: not an array")
                continue
            for i, item in enumerate(obj[key]):
                errs += check(item, sub[1:-1], f"{path}.{key}[{i}]")
        else:
            errs += check(obj[key], sub, f"{path}.{key}")
    for key in ("text", "markdown", "uri", "id", "name", "version", "ruleId", "helpUri"):
        if key in obj and not isinstance(obj[key], str):
            errs.append(f"{path}.{key}: not a string")
    for key in ("ruleIndex",):
        if key in obj and not (isinstance(obj[key], int) and obj[key] >= -1):
            errs.append(f"{path}.{key}: not an integer >= -1")
    if "partialFingerprints" in obj:
        fp = obj["partialFingerprints"]
        if not (isinstance(fp, dict) and all(isinstance(v, str) for v in fp.values())):
            errs.append(f"{path}.partialFingerprints: values must be strings")
    return errs


def _sarif(run: RunResult = RUN) -> dict[str, Any]:
    buf = io.StringIO()
    get_reporter("sarif").render(run, buf)
    assert buf.getvalue().endswith("}\n")
    doc: dict[str, Any] = json.loads(buf.getvalue())
    return doc


def test_the_checker_catches_what_the_schema_forbids() -> None:
    good = _sarif()
    assert check(good, "sarifLog") == []
    bad = json.loads(json.dumps(good))
    del bad["runs"][0]["tool"]["driver"]["name"]
    bad["runs"][0]["results"][0]["level"] = "fatal"
    bad["runs"][0]["results"][0]["message"] = {"markdown": "x"}
    bad["runs"][0]["bogus"] = 1
    bad["version"] = "2.0.0"
    errs = check(bad, "sarifLog")
    assert any("toolComponent lacks 'name'" in e for e in errs)
    assert any(".level" in e for e in errs)
    assert any("message needs text or id" in e for e in errs)
    assert any("no property 'bogus'" in e for e in errs)
    assert any("must be '2.1.0'" in e for e in errs)


def test_sarif_structure_conforms_for_every_shape_of_run() -> None:
    one = RunResult(targets=(TARGET,))
    clean = RunResult(targets=(OK_TARGET,))
    for run in (RUN, one, clean, RunResult()):
        doc = _sarif(run)
        assert check(doc, "sarifLog") == [], check(doc, "sarifLog")
        assert doc["$schema"].endswith("sarif-2.1.0.json")


def test_each_finding_is_a_result_with_its_rule_and_the_target_url() -> None:
    doc = _sarif()
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [f.code for f in FINDINGS]
    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("expired-cert-accepted", "error"),
        ("revocation-not-checked", "warning"),
    ]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == TARGET.target
        assert r["partialFingerprints"]
    # the same problem on the same target keeps its fingerprint across runs
    assert (
        results[0]["partialFingerprints"]
        == _sarif()["runs"][0]["results"][0]["partialFingerprints"]
    )


def test_rules_carry_help_text_and_every_fix() -> None:
    rule = _sarif()["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["shortDescription"]["text"] == "Expired client certificates are accepted"
    assert rule["defaultConfiguration"]["level"] == "error"
    help_text = rule["help"]["text"]
    assert "An expired client certificate was accepted." in help_text
    assert "- apache: SSLVerifyClient require" in help_text
    assert "- nginx: ssl_verify_client on;" in help_text
    assert "```" in rule["help"]["markdown"]  # the multi-line nginx fix is fenced
    assert "security" in rule["properties"]["tags"]


def test_layered_verdict_is_in_results_and_run_properties() -> None:
    target = TargetResult(
        target="https://gw.example/",
        results=TARGET.results,
        findings=(Finding("client-auth-optional", Severity.ERROR, "no-cert got in"),),
        auth_verdict=AuthVerdict.FAIL_OPEN,
        auth_reason="a certificate is requested, but no-cert got in",
    )
    doc = _sarif(RunResult(targets=(target, OK_TARGET)))
    run = doc["runs"][0]
    props = run["results"][0]["properties"]
    assert props["verdict"] == "fail-open"
    assert props["verdict_reason"] == "a certificate is requested, but no-cert got in"
    targets = run["properties"]["targets"]
    assert [(t["target"], t["verdict"]) for t in targets] == [
        ("https://gw.example/", "fail-open"),
        ("https://ok.example", "inconclusive"),
    ]
    assert targets[0]["failed"] == 1 and targets[1]["passed"] == 1


def test_fixes_in_a_result_follow_the_server_profile() -> None:
    results = _sarif()["runs"][0]["results"]
    assert list(results[0]["properties"]["fixes"]) == ["nginx"]  # TARGET is --server nginx


def test_every_probe_finding_code_has_a_summary() -> None:
    from mtlscheck._diagnose import Code

    missing = [c.value for c in Code if rule_summary(c.value) == c.value]
    assert missing == []


def test_sarif_carries_no_credentials_or_control_codes() -> None:
    url = "https://user:s3cret@api.internal/"
    target = TargetResult(
        target=url,
        results=(),
        findings=(Finding("not-tls", Severity.ERROR, "got \x1b[2J garbage from " + url),),
    )
    text = json.dumps(_sarif(RunResult(targets=(target,))))
    assert "s3cret" not in text
    assert "\x1b" not in text and "\\u001b" not in text
