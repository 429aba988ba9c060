"""CI scale-out: JSON reports read back, ``--shard K/N`` + ``report merge``, ``--baseline``.

- unit: a JSON report reads back into the same run; shards partition the targets; merge
  refuses reports that do not fit together; the baseline comparison's rules;
- real nginx: the shards of a run, merged, equal the unsharded run (same document, same exit
  code); a baseline regression (nginx switched from ``ssl_verify_client on`` to ``optional``)
  fails, an unchanged server passes, the way back is an improvement that passes.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from servers import NginxServer
from test_report import RUN, TARGET

from mtlscheck._baseline import ChangeKind, compare
from mtlscheck._cli import main
from mtlscheck._errors import InputError, UsageError
from mtlscheck._model import (
    AuthVerdict,
    Finding,
    Outcome,
    OutcomeKind,
    ProbeResult,
    RunResult,
    Severity,
    TargetResult,
    Verdict,
)
from mtlscheck._pki import PKI
from mtlscheck._report._json import to_document
from mtlscheck._report._load import load_report, run_from_document
from mtlscheck._shard import merge_reports, parse_shard, shard_of

V = AuthVerdict


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    return rc, cap.out, cap.err


# --------------------------------------------------------------------------- reading back


def test_a_json_report_reads_back_into_the_same_run() -> None:
    with_server = TargetResult(
        "https://srv.example/",
        (
            ProbeResult(
                "valid", "https://srv.example/", "1.3", "accepted", Verdict.PASS,
                Outcome(OutcomeKind.HTTP, status=200, server="nginx/1.24"),
            ),
        ),
        auth_verdict=V.ENFORCED_HTTP,
        auth_reason="why",
    )  # fmt: skip
    for run in (RUN, RunResult((with_server,)), RunResult()):
        doc = json.loads(json.dumps(to_document(run)))
        back, shard = run_from_document(doc)
        assert shard is None
        assert to_document(back) == doc
        assert back.exit_code == run.exit_code
    doc = to_document(RUN, shard=(2, 3, 7))
    assert doc["shard"] == {"index": 2, "count": 3, "total": 7}
    assert run_from_document(doc)[1] == (2, 3, 7)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[]", "not an mtlscheck JSON report"),
        ('{"tool": "other", "targets": []}', "not an mtlscheck JSON report"),
        ('{"tool": "mtlscheck", "schema": 9, "targets": []}', "schema 9"),
        ('{"tool": "mtlscheck", "schema": 1, "targets": [{}]}', "missing key 'target'"),
        (
            '{"tool": "mtlscheck", "schema": 1, "targets": [{"target": "x", "probes": '
            '[{"probe": "a", "target": "x", "expected": "e", "verdict": "maybe"}]}]}',
            "not a valid mtlscheck JSON report",
        ),
        ("{not json", "not JSON"),
    ],
)
def test_bad_reports_are_one_line(text: str, says: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    with pytest.raises(InputError) as exc:
        load_report(bad)
    assert says in str(exc.value) and "\n" not in str(exc.value)


# --------------------------------------------------------------------------- shards


def test_shards_partition_the_targets_and_merge_restores_the_order() -> None:
    items = [f"t{i}" for i in range(11)]
    for n in (1, 2, 3, 4, 11, 15):
        parts = [shard_of(items, k, n) for k in range(1, n + 1)]
        assert sorted(x for p in parts for x in p) == sorted(items)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
        runs = [
            (f"s{k}", RunResult(tuple(TargetResult(t, ()) for t in p)), (k, n, len(items)))
            for k, p in enumerate(parts, 1)
        ]
        merged, notes = merge_reports(list(reversed(runs)))
        assert [t.target for t in merged.targets] == items and notes == []
    assert parse_shard(" 2/4 ") == (2, 4)
    for bad in ("0/3", "4/3", "1/0", "x", "1/2/3", ""):
        with pytest.raises(UsageError):
            parse_shard(bad)


def test_merge_refuses_reports_that_do_not_fit() -> None:
    def shard(k: int, n: int, total: int, count: int | None = None) -> Any:
        size = len(range(k - 1, total, n)) if count is None else count
        return (f"s{k}of{n}", RunResult(tuple(TargetResult(f"t{i}", ()) for i in range(size))),
                (k, n, total))  # fmt: skip

    cases = [
        ([shard(1, 2, 4), shard(1, 2, 4)], "given twice"),
        ([shard(1, 2, 4)], "shard 2/2 missing"),
        ([shard(1, 2, 4), shard(2, 3, 4)], "not the same run"),
        ([shard(1, 2, 4), shard(2, 2, 4, count=3)], "holds 3 targets, not 2"),
        ([shard(1, 2, 4), ("plain", RunResult(), None)], "not a shard report"),
    ]
    for reports, says in cases:
        with pytest.raises(InputError, match=says):
            merge_reports(reports)
    merged, notes = merge_reports([shard(1, 3, 5)], allow_missing=True)
    assert [t.target for t in merged.targets] == ["t0", "t1"]
    assert notes == ["shard 2/3, 3/3 missing: the merged report lacks its targets"]


# --------------------------------------------------------------------------- baseline rules


def _t(verdict: AuthVerdict, probes: dict[str, Verdict], codes: tuple[str, ...] = (),
       url: str = "https://a/") -> TargetResult:  # fmt: skip
    results = tuple(
        ProbeResult(p, url, "1.3", "rejected", v, Outcome(OutcomeKind.HTTP, status=200))
        for p, v in probes.items()
    )
    findings = tuple(Finding(c, Severity.ERROR, f"{c} message") for c in codes)
    return TargetResult(url, results, findings=findings, auth_verdict=verdict)


def test_baseline_rules() -> None:
    P, F, S = Verdict.PASS, Verdict.FAIL, Verdict.SKIP
    good = _t(V.ENFORCED_HTTP, {"no-cert": P, "expired": F, "revoked": S}, ("expired-x",))
    same = compare(RunResult((good,)), RunResult((good,)))
    assert same.changes == () and same.exit_code(RunResult((good,))) == 0

    worse = _t(V.FAIL_OPEN, {"no-cert": F, "expired": F, "revoked": F}, ("expired-x", "opt"))
    c = compare(RunResult((good,)), RunResult((worse,)))
    regressions = [ch.text for ch in c.of(ChangeKind.REGRESSION)]
    assert regressions[0].startswith("verdict enforced-http -> fail-open")
    assert any(r.startswith("no-cert[tls1.3] pass -> fail") for r in regressions)
    assert any(r.startswith("revoked[tls1.3] skip -> fail") for r in regressions)
    assert not any("expired[tls1.3]" in r for r in regressions)  # it was failing already
    assert "new error finding opt: opt message" in regressions
    assert c.exit_code(RunResult((worse,))) == 1

    back = compare(RunResult((worse,)), RunResult((good,)))
    assert not back.regressed and back.exit_code(RunResult((good,))) == 0
    improved = [ch.text for ch in back.of(ChangeKind.IMPROVEMENT)]
    assert "verdict fail-open -> enforced-http" in improved
    assert "error finding opt gone" in improved
    assert any(i.startswith("no-cert[tls1.3] fail -> pass") for i in improved)

    # same rank: shown, not failing; a new passing target: shown; a missing one: counted
    tls = _t(V.ENFORCED_TLS, {"no-cert": P, "expired": F, "revoked": S}, ("expired-x",))
    new_ok = _t(V.ENFORCED_TLS, {"no-cert": P}, url="https://b/")
    c = compare(RunResult((good, _t(V.OFF, {}, url="https://gone/"))), RunResult((tls, new_ok)))
    assert [ch.kind for ch in c.changes] == [ChangeKind.CHANGE, ChangeKind.CHANGE]
    assert c.not_run == 1 and c.compared == 1 and not c.regressed
    # a new target that fails has no baseline to hide behind
    new_bad = _t(V.OFF, {"no-cert": F}, ("client-auth-not-requested",), url="https://c/")
    c = compare(RunResult((good,)), RunResult((good, new_bad)))
    assert c.regressed and "not in the baseline" in c.of(ChangeKind.REGRESSION)[0].text
    # our own bug stays exit 4 whatever the baseline says
    bug = _t(V.INCONCLUSIVE, {})
    bug = TargetResult(bug.target, (ProbeResult("no-cert", bug.target, None, "rejected",
                       Verdict.ERROR, Outcome(OutcomeKind.INTERNAL)),))  # fmt: skip
    assert compare(RunResult((bug,)), RunResult((bug,))).exit_code(RunResult((bug,))) == 4


def test_baseline_names_url_with_credentials_redacted() -> None:
    secret = TargetResult("https://u:pw@a.example/", TARGET.results)
    doc = json.loads(json.dumps(to_document(RunResult((secret,)))))
    old, _ = run_from_document(doc)
    c = compare(old, RunResult((secret,)))
    assert c.compared == 1 and c.changes == ()


# --------------------------------------------------------------------------- real nginx


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """The report without what differs between two runs of the same thing: timings, the paths
    of certificates minted for the run (in commands and chains) and their validity times."""
    doc = json.loads(json.dumps(doc))
    doc.pop("shard", None)
    for t in doc["targets"]:
        t.pop("certs_dir", None)
        for p in t["probes"]:
            for key in ("duration_ms", "curl", "openssl"):
                p.pop(key, None)
            if p["facts"]:
                for c in p["facts"]["client_chain"]:
                    c.pop("not_before", None)
                    c.pop("not_after", None)
                    c["subject"] = c["subject"].split(",")[-1]
                    c["issuer"] = c["issuer"].split(",")[-1]
    return doc


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.realserver
def test_merged_shards_equal_one_unsharded_run(
    nginx_factory: Callable[..., NginxServer],
    nginx_mtls: NginxServer,
    server_pki: PKI,
    test_pki_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = {"server_cert": server_pki.server_cert, "server_key": server_pki.server_key,
             "client_ca": server_pki.ca_cert}  # fmt: skip
    optional = nginx_factory(NginxServer.mtls_fragment(**paths, verify="optional"))
    urls = [f"{nginx_mtls.url}s{i}" for i in range(5)] + [f"{optional.url}o{i}" for i in range(3)]
    urls.insert(4, f"https://localhost:{_refused_port()}/down")
    listing = tmp_path / "targets.txt"
    listing.write_text("\n".join(urls) + "\n")
    common = ["probe", "--targets", str(listing), "--pki", str(test_pki_dir),
              "--probes", "no-cert,valid,wrong-ca", "--timeout", "5", "-f", "json"]  # fmt: skip

    rc_all, out, _ = run_cli(capsys, *common)
    whole = json.loads(out)
    assert rc_all == 3  # the refused port
    shard_files = []
    for k in (3, 1, 2):  # any order
        f = tmp_path / f"shard-{k}.json"
        rc, _, err = run_cli(capsys, *common, "--shard", f"{k}/3", "-o", str(f))
        assert rc in (0, 1, 3), err
        shard_doc = json.loads(f.read_text())
        assert shard_doc["shard"] == {"index": k, "count": 3, "total": len(urls)}
        assert [t["target"] for t in shard_doc["targets"]] == urls[k - 1 :: 3]
        shard_files.append(str(f))

    rc_merged, out, _ = run_cli(capsys, "report", "merge", *shard_files, "-f", "json")
    merged = json.loads(out)
    assert rc_merged == rc_all
    assert "shard" not in merged
    assert _comparable(merged) == _comparable(whole)
    verdicts = [t["verdict"] for t in merged["targets"]]
    assert verdicts.count("enforced-http") == 5 and verdicts.count("fail-open") == 3

    # other formats render the merged run; a missing shard is an error unless allowed
    rc, out, _ = run_cli(capsys, "report", "merge", *shard_files, "-f", "sarif")
    assert rc == rc_all and json.loads(out)["version"] == "2.1.0"
    rc, _, err = run_cli(capsys, "report", "merge", *shard_files[:2])
    assert rc == 2 and "shard 2/3 missing" in err
    rc, _, err = run_cli(capsys, "report", "merge", *shard_files[:2], "--allow-missing", "-f",
                         "json")  # fmt: skip
    assert rc >= 1 and "warning: shard 2/3 missing" in err


@pytest.mark.realserver
def test_baseline_fails_on_regression_and_passes_unchanged(
    nginx_factory: Callable[..., NginxServer],
    server_pki: PKI,
    test_pki_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = {"server_cert": server_pki.server_cert, "server_key": server_pki.server_key,
             "client_ca": server_pki.ca_cert, "crl": server_pki.crl}  # fmt: skip
    port = _refused_port()
    on = nginx_factory(NginxServer.mtls_fragment(**paths, verify="required"), port=port)
    probe = ["probe", on.url, "--pki", str(test_pki_dir), "--server", "nginx", "--no-color"]
    base = tmp_path / "base.json"
    rc, _, _ = run_cli(capsys, *probe, "-f", "json", "-o", str(base))
    assert rc == 0
    assert json.loads(base.read_text())["targets"][0]["verdict"] == "enforced-http"

    # the same server again: nothing changed, exit 0, and the report says so
    rc, out, _ = run_cli(capsys, *probe, "--baseline", str(base))
    assert rc == 0, out
    assert "0 regressions, 0 improvements, 0 other changes" in out

    # the same URL after ssl_verify_client on -> optional: a regression, exit 1
    on.stop()
    nginx_factory(NginxServer.mtls_fragment(**paths, verify="optional"), port=port)
    worse = tmp_path / "worse.json"
    rc, out, err = run_cli(capsys, *probe, "--baseline", str(base), "-f", "json", "-o",
                           str(worse))  # fmt: skip
    assert rc == 1
    assert "REGRESSION" in err and "verdict enforced-http -> fail-open" in err
    assert "no-cert[tls1.3] pass -> fail" in err
    assert "new error finding client-auth-optional" in err
    json.loads(worse.read_text())  # the JSON report stays a clean document
    rc, out, _ = run_cli(capsys, *probe, "--baseline", str(base), "-f", "markdown")
    assert rc == 1 and "### Compared with the baseline" in out

    # and judged against the optional run, the same server is unchanged (exit 0 although
    # no-cert fails: known problems do not fail the run)
    rc, out, _ = run_cli(capsys, *probe, "--baseline", str(worse))
    assert rc == 0 and "0 regressions" in out
    rc, _, _ = run_cli(capsys, *probe)
    assert rc == 1  # without the baseline it still fails


@pytest.mark.realserver
def test_suite_files_shard_too(
    nginx_mtls: NginxServer,
    test_pki_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    suite = tmp_path / "mtls.toml"
    targets = "".join(
        f'[[targets]]\nname = "t{i}"\nurl = "{nginx_mtls.url}t{i}"\n' for i in range(5)
    )
    suite.write_text(
        f'[defaults]\npki = "{test_pki_dir}"\nprobes = ["no-cert"]\ntls = "1.3"\n\n{targets}'
    )
    files = []
    for k in (1, 2):
        out = tmp_path / f"s{k}.json"
        rc, _, err = run_cli(capsys, "probe", "--suite", str(suite), "--shard", f"{k}/2",
                             "-f", "json", "-o", str(out))  # fmt: skip
        assert rc == 0, err
        doc = json.loads(out.read_text())
        assert doc["shard"] == {"index": k, "count": 2, "total": 5}
        assert [t["target"] for t in doc["targets"]] == [
            f"{nginx_mtls.url}t{i}" for i in range(k - 1, 5, 2)
        ]
        files.append(str(out))
    rc, out_text, _ = run_cli(capsys, "report", "merge", *files, "-f", "json")
    assert rc == 0
    assert [t["target"] for t in json.loads(out_text)["targets"]] == [
        f"{nginx_mtls.url}t{i}" for i in range(5)
    ]
    # more shards than targets: an empty shard is a valid report of nothing
    empty = tmp_path / "s7.json"
    rc, _, _ = run_cli(capsys, "probe", "--suite", str(suite), "--shard", "7/7", "-f", "json",
                       "-o", str(empty))  # fmt: skip
    assert rc == 0 and json.loads(empty.read_text())["targets"] == []
