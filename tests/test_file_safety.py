"""Nothing is written through a link, no report is left half-written, nothing minted is left.

Every place mtlscheck writes a file gets a symlink attack: a link planted where a file goes,
pointing at a "victim" file the attacker wants overwritten.  The victim must be unchanged and
the run must end with one ``mtlscheck: error:`` line (exit 2), never a traceback.
Places: ``--save-certs`` (its marker, each ``<probe>.pem``/``.key``, the directory itself),
``pki init --force`` (every file, and the ``www`` directory), ``-o FILE``.

Then: reports are written whole or not at all (non-UTF-8 paths included); temporary
directories are 0700 and keys 0600; and SIGTERM/SIGHUP/SIGINT in the middle of a run remove
the minted certificates at once and exit 143/129/130.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtlscheck import InputError, check
from mtlscheck._cli import main
from mtlscheck._identity import ClientIdentity
from mtlscheck._pki import PKI, init_pki, make_ca, make_leaf
from mtlscheck._probes import _save
from mtlscheck._server import ReferenceServer
from mtlscheck._write import atomic_write, write_new

PRECIOUS = b"the victim's precious file\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    p, _ = init_pki(tmp_path_factory.mktemp("file-safety") / "pki")
    return p


@pytest.fixture(scope="module")
def server(pki: PKI) -> Iterator[ReferenceServer]:
    with ReferenceServer.from_pki_dir(pki.directory, mode="nginx") as srv:
        yield srv


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    v = tmp_path / "victim" / "precious.txt"
    v.parent.mkdir()
    v.write_bytes(PRECIOUS)
    return v


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mtlscheck: error:"), err
    assert "Traceback" not in err
    return lines[0]


def _probe_args(server: ReferenceServer, pki: PKI, *extra: str) -> list[str]:
    return [
        "probe",
        server.url,
        "--cacert",
        str(pki.ca_cert),
        "--ca-cert",
        str(pki.ca_cert),
        "--ca-key",
        str(pki.ca_key),
        "-p",
        "expired,wrong-ca",
        "--tls",
        "1.3",
        *extra,
    ]


# --------------------------------------------------------------------------- --save-certs


@pytest.mark.parametrize(
    "planted", ["expired.pem", "expired.key", "wrong-ca.pem", "wrong-ca.key", ".mtlscheck-certs"]
)
def test_save_certs_refuses_a_planted_link(
    server: ReferenceServer,
    pki: PKI,
    tmp_path: Path,
    victim: Path,
    planted: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = tmp_path / "certs"
    d.mkdir(mode=0o700)
    if planted != ".mtlscheck-certs":
        (d / ".mtlscheck-certs").write_text("certificates minted by mtlscheck probe\n")
    (d / planted).symlink_to(victim)
    rc = main(_probe_args(server, pki, "--save-certs", str(d)))
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and "symbolic link" in line and planted in line
    assert victim.read_bytes() == PRECIOUS
    assert (d / planted).is_symlink()  # refused, not "fixed" by removing it either


def test_a_link_planted_after_the_check_is_still_not_followed(tmp_path: Path, victim: Path) -> None:
    """The race: the link appears between the directory check and the write.  The write
    itself (O_EXCL | O_NOFOLLOW) refuses it."""
    ca = make_ca("race CA")
    leaf = make_leaf(ca, "race")
    ident = ClientIdentity(leaf.cert, leaf.key, leaf.chain)
    for name in ("expired.pem", "expired.key"):
        d = tmp_path / name.replace(".", "-")
        d.mkdir()
        (d / name).symlink_to(victim)
        with pytest.raises(InputError, match="symbolic link"):
            _save(ident, "expired", d)
        assert victim.read_bytes() == PRECIOUS


def test_save_certs_refuses_a_linked_directory(
    server: ReferenceServer, pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "certs").symlink_to(elsewhere)
    rc = main(_probe_args(server, pki, "--save-certs", str(tmp_path / "certs")))
    assert rc == 2 and "symbolic link" in one_error_line(capsys.readouterr().err)
    assert list(elsewhere.iterdir()) == []


def test_save_certs_with_a_directory_where_a_file_goes_is_one_error_line(
    server: ReferenceServer, pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "certs"
    d.mkdir()
    (d / ".mtlscheck-certs").write_text("x\n")
    (d / "wrong-ca.pem").mkdir()
    rc = main(_probe_args(server, pki, "--save-certs", str(d)))
    assert rc == 2 and "wrong-ca.pem" in one_error_line(capsys.readouterr().err)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
def test_save_certs_refuses_another_users_directory(
    server: ReferenceServer, pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "certs"
    d.mkdir(mode=0o777)
    os.chown(d, 65534, 65534)
    rc = main(_probe_args(server, pki, "--save-certs", str(d)))
    assert rc == 2 and "another user" in one_error_line(capsys.readouterr().err)
    assert list(d.iterdir()) == []


def test_save_certs_is_private_and_can_be_reused(
    server: ReferenceServer, pki: PKI, tmp_path: Path
) -> None:
    d = tmp_path / "new" / "certs"
    for _ in range(2):  # the second run rewrites the files of the first
        result = check(
            server.url,
            cacert=pki.ca_cert,
            ca_cert=pki.ca_cert,
            ca_key=pki.ca_key,
            probes=["expired", "wrong-ca"],
            tls="1.3",
            save_certs=d,
        )
        assert result.certs_dir == str(d.resolve())
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    keys = sorted(d.glob("*.key"))
    assert [k.name for k in keys] == ["expired.key", "wrong-ca.key"]
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)


def test_save_certs_with_several_option_sets_can_be_reused(
    server: ReferenceServer, pki: PKI, tmp_path: Path
) -> None:
    """Targets with different options mint into set2, set3, ...: a second run reuses them."""
    from mtlscheck._api import run_many

    d = tmp_path / "certs"
    base = {"cacert": pki.ca_cert, "ca_cert": pki.ca_cert, "ca_key": pki.ca_key, "tls": "1.3"}
    specs = [
        (server.url, {**base, "probes": ["expired"]}),
        (server.url, {**base, "probes": ["wrong-ca"]}),
    ]
    for _ in range(2):
        run_many(specs, save_certs=d)
    assert (d / "set2").is_dir() and stat.S_IMODE((d / "set2").stat().st_mode) == 0o700
    assert sorted(p.name for p in (d / "set2").iterdir()) == ["wrong-ca.key", "wrong-ca.pem"]
    shutil.rmtree(d / "set2")
    (d / "set2").symlink_to(tmp_path)  # a linked set directory is refused like any link
    with pytest.raises(InputError, match="symbolic link"):
        run_many(specs, save_certs=d)


def test_minted_files_live_in_a_0700_directory_with_0600_keys_and_are_removed(
    server: ReferenceServer, pki: PKI
) -> None:
    seen: list[tuple[int, int]] = []

    def look(result: object) -> None:
        # while the run is on, the minted files exist; look at them through the command
        curl = getattr(result, "curl", "")
        for word in curl.split():
            if word.endswith(".key"):
                key = Path(word)
                seen.append(
                    (stat.S_IMODE(key.parent.stat().st_mode), stat.S_IMODE(key.stat().st_mode))
                )

    result = check(
        server.url,
        cacert=pki.ca_cert,
        ca_cert=pki.ca_cert,
        ca_key=pki.ca_key,
        probes=["expired", "wrong-ca"],
        tls="1.3",
        workers=1,
        on_result=look,
    )
    assert seen and set(seen) == {(0o700, 0o600)}
    assert result.certs_removed
    minted_dir = Path(next(w for w in result.results[0].curl.split() if w.endswith(".key")))
    assert not minted_dir.parent.exists()


# --------------------------------------------------------------------------- --save-certs: the path


def test_save_certs_makes_every_missing_directory_0700(
    server: ReferenceServer, pki: PKI, tmp_path: Path
) -> None:
    d = tmp_path / "new" / "deeper" / "certs"
    assert main(_probe_args(server, pki, "--save-certs", str(d))) == 0
    for made in (d.parent.parent, d.parent, d):
        assert stat.S_IMODE(made.stat().st_mode) == 0o700, made


@pytest.mark.parametrize("depth", [1, 2], ids=["parent", "grandparent"])
def test_save_certs_refuses_a_world_writable_parent_without_sticky_bit(
    server: ReferenceServer,
    pki: PKI,
    tmp_path: Path,
    depth: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Anyone may rename entries of a 0777 directory: ours could be swapped for a link
    after any check.  ssh refuses such a path (StrictModes); so does --save-certs."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    d = shared / "certs" if depth == 1 else shared / "mine" / "certs"
    if depth == 2:
        d.parent.mkdir(mode=0o700)
    rc = main(_probe_args(server, pki, "--save-certs", str(d)))
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and "writable by every user" in line and str(shared) in line
    assert not d.exists()


def test_save_certs_accepts_a_sticky_world_writable_parent(
    server: ReferenceServer, pki: PKI, tmp_path: Path
) -> None:
    """/tmp-like (1777): others cannot rename our entries, and the directory we create there
    is checked to be ours."""
    shared = tmp_path / "sticky"
    shared.mkdir()
    shared.chmod(0o1777)
    assert main(_probe_args(server, pki, "--save-certs", str(shared / "certs"))) == 0
    assert stat.S_IMODE((shared / "certs").stat().st_mode) == 0o700


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
def test_save_certs_refuses_a_parent_of_another_user(
    server: ReferenceServer, pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 65534, 65534)
    d = theirs / "certs"
    rc = main(_probe_args(server, pki, "--save-certs", str(d)))
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and "belongs to another user" in line and str(theirs) in line
    assert not d.exists()


def test_save_certs_never_follows_a_link_planted_while_it_creates_the_path(
    server: ReferenceServer,
    pki: PKI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The race on a component being created (``new/b`` of ``new/b/certs``): a link appears
    there just before our mkdir.  It is refused, and nothing lands where it points."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real_mkdir = os.mkdir
    planted: list[str] = []

    def racing_mkdir(path: object, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        if os.path.basename(os.fsdecode(path)) == "b" and not planted:  # type: ignore[arg-type]
            os.symlink(elsewhere, path, dir_fd=dir_fd)  # type: ignore[arg-type]
            planted.append("b")
        real_mkdir(path, mode, dir_fd=dir_fd)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "mkdir", racing_mkdir)
    d = tmp_path / "new" / "b" / "certs"
    rc = main(_probe_args(server, pki, "--save-certs", str(d)))
    monkeypatch.undo()
    assert planted == ["b"]
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and "symbolic link" in line
    assert list(elsewhere.iterdir()) == []


# --------------------------------------------------------------------------- pytest's minted/


def test_pytest_minted_directory_is_private(pki: PKI, tmp_path: Path) -> None:
    """``mtls_pki.mint_client`` writes under ``<pki>/minted``: made like --save-certs (0700,
    no link followed), not with ``mkdir(exist_ok=True)``, which accepts a link to a directory."""
    from mtlscheck._pytest_support.pki import MtlsPKI

    copy = tmp_path / "pki"
    shutil.copytree(pki.directory, copy, symlinks=True)
    mtls = MtlsPKI(PKI.load(copy))
    first = mtls.mint_client("first")
    assert first.cert.parent == copy / "minted"
    assert stat.S_IMODE((copy / "minted").stat().st_mode) == 0o700
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600


def test_pytest_minted_directory_planted_as_a_link_is_refused(
    pki: PKI, tmp_path: Path, victim: Path
) -> None:
    from mtlscheck._pytest_support.pki import MtlsPKI

    copy = tmp_path / "pki"
    shutil.copytree(pki.directory, copy, symlinks=True)
    (copy / "minted").symlink_to(victim.parent)  # planted: minted/ -> someone else's directory
    with pytest.raises(InputError, match="symbolic link"):
        MtlsPKI(PKI.load(copy)).mint_client("second")
    assert sorted(p.name for p in victim.parent.iterdir()) == ["precious.txt"]


# --------------------------------------------------------------------------- pki init --force


def test_pki_init_force_refuses_a_planted_www_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "pki"
    init_pki(d)
    elsewhere = tmp_path / "var-www"
    elsewhere.mkdir()
    for item in (d / "www").iterdir():
        item.unlink()
    (d / "www").rmdir()
    (d / "www").symlink_to(elsewhere)
    before = (d / "ca.pem").read_bytes()
    rc = main(["pki", "init", str(d), "--force"])
    assert rc == 2 and "www" in one_error_line(capsys.readouterr().err)
    assert list(elsewhere.iterdir()) == []
    assert (d / "ca.pem").read_bytes() == before  # refused before writing anything


@pytest.mark.parametrize(
    "planted", ["ca.key", "valid.pem", "valid.p12", "crl.pem", "manifest.json"]
)
def test_pki_init_force_refuses_a_planted_file_link(
    tmp_path: Path, victim: Path, planted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "pki"
    init_pki(d)
    (d / planted).unlink()
    (d / planted).symlink_to(victim)
    rc = main(["pki", "init", str(d), "--force"])
    assert rc == 2 and "symbolic link" in one_error_line(capsys.readouterr().err)
    assert victim.read_bytes() == PRECIOUS


@pytest.mark.parametrize("force", [False, True])
def test_pki_init_refuses_a_directory_that_is_a_link(
    tmp_path: Path, force: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """The PKI directory itself planted as a link: the CA key would go wherever it points."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "pki").symlink_to(elsewhere)
    rc = main(["pki", "init", str(tmp_path / "pki"), *(["--force"] if force else [])])
    assert rc == 2 and "symbolic link" in one_error_line(capsys.readouterr().err)
    assert list(elsewhere.iterdir()) == []


def test_pki_init_refuses_a_parent_anyone_can_swap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Like --save-certs and ssh: not under a directory writable by everyone without the
    sticky bit, where another user could rename ours away and put theirs in its place."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    rc = main(["pki", "init", str(shared / "pki")])
    assert rc == 2 and "writable by every user" in one_error_line(capsys.readouterr().err)
    assert list(shared.iterdir()) == []
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    assert main(["pki", "init", str(sticky / "pki")]) == 0
    assert stat.S_IMODE((sticky / "pki").stat().st_mode) == 0o777 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_pki_keys_are_0600(tmp_path: Path) -> None:
    p, _ = init_pki(tmp_path / "pki")
    keys = [*p.directory.glob("*.key"), p.directory / "valid.p12"]
    assert len(keys) > 5
    assert {stat.S_IMODE(k.stat().st_mode) for k in keys} == {0o600}


# --------------------------------------------------------------------------- -o FILE


def _report_args(server: ReferenceServer, pki: PKI, *extra: str) -> list[str]:
    return ["probe", server.url, "--pki", str(pki.directory), "--tls", "1.3", *extra]


def test_report_output_replaces_a_link_instead_of_writing_through_it(
    server: ReferenceServer, pki: PKI, tmp_path: Path, victim: Path
) -> None:
    out = tmp_path / "report.json"
    out.symlink_to(victim)
    rc = main(_report_args(server, pki, "-f", "json", "-o", str(out)))
    assert rc == 0
    assert victim.read_bytes() == PRECIOUS
    assert not out.is_symlink() and out.read_text().lstrip().startswith("{")


@pytest.mark.parametrize("fmt", ["junit", "markdown", "console", "json"])
def test_non_utf8_paths_give_a_whole_report(
    server: ReferenceServer, pki: PKI, tmp_path: Path, fmt: str
) -> None:
    """A non-UTF-8 ``-o`` path, and non-UTF-8 file names inside the report (the saved
    certificates the curl commands name): the report is written whole, as UTF-8."""
    base = os.fsencode(tmp_path)
    out = os.fsdecode(base + b"/report-\xff\xfe." + fmt.encode())
    certs = os.fsdecode(base + b"/certs-\xe9")
    args = ["probe", server.url, "--cacert", str(pki.ca_cert)]
    args += ["--ca-cert", str(pki.ca_cert), "--ca-key", str(pki.ca_key)]
    args += ["-p", "no-cert,expired", "--tls", "1.3", "-e", "expired=200", "-v"]
    rc = main([*args, "--save-certs", certs, "-f", fmt, "-o", out])
    assert rc == 1  # expired expected 200 on purpose: a failing probe prints its commands
    data = Path(out).read_bytes()
    text = data.decode("utf-8")  # valid UTF-8 whatever the paths were
    assert "certs-" in text and "expired.pem" in text
    if fmt == "junit":
        assert ET.fromstring(data).tag == "testsuites"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failed_report_write_leaves_the_old_report_and_no_temporary_file(
    server: ReferenceServer,
    pki: PKI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "report.xml"
    out.write_text("old report\n")
    real_write = os.write

    def disk_full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 100:  # the report, not the terminal
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", disk_full)
    rc = main(_report_args(server, pki, "-f", "junit", "-o", str(out)))
    monkeypatch.undo()
    assert rc == 2
    assert "No space left" in one_error_line(capsys.readouterr().err)
    assert out.read_text() == "old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xml"]


@pytest.mark.parametrize("where", ["missing-dir/report.json", "a-directory"])
def test_an_unwritable_report_path_is_one_error_line(
    server: ReferenceServer,
    pki: PKI,
    tmp_path: Path,
    where: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a-directory").mkdir()
    rc = main(_report_args(server, pki, "-f", "json", "-o", str(tmp_path / where)))
    assert rc == 2
    one_error_line(capsys.readouterr().err)


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    out.write_text("old")
    out.chmod(0o640)
    atomic_write(out, b"new")
    assert out.read_bytes() == b"new" and stat.S_IMODE(out.stat().st_mode) == 0o640


def test_write_new_never_follows_or_reuses(tmp_path: Path, victim: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(victim)
    for replace in (False, True):
        with pytest.raises(InputError, match="symbolic link"):
            write_new(link, b"x", mode=0o600, replace=replace)
    assert victim.read_bytes() == PRECIOUS
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        write_new(fifo, b"x", mode=0o600, replace=True)
    f = tmp_path / "f"
    f.write_bytes(b"old")
    with pytest.raises(InputError, match="exists"):
        write_new(f, b"x", mode=0o600)
    write_new(f, b"new", mode=0o600, replace=True)
    assert f.read_bytes() == b"new" and stat.S_IMODE(f.stat().st_mode) == 0o600


# --------------------------------------------------------------------------- signals


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers: probes stay in flight until their timeout."""
    sock = socket.create_server(("127.0.0.1", 0))
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conns.append(sock.accept()[0])

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        t.join(5)
        for c in conns:
            c.close()
        sock.close()


def _minted(tmpdir: Path) -> list[Path]:
    """Minted files under ``tmpdir``; the run may be removing them while we look, so a
    directory that vanishes mid-walk is simply not there any more."""
    found: list[Path] = []
    for root, _dirs, files in os.walk(tmpdir):  # os.walk ignores what vanishes under it
        found += [Path(root, f) for f in files if f.endswith((".pem", ".key"))]
    return found


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)]
)
def test_a_signal_mid_run_removes_minted_files_and_exits_128_plus_n(
    pki: PKI, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir))
    with silent_server() as port:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "mtlscheck", "probe", f"https://127.0.0.1:{port}/"),
                *("--ca-cert", str(pki.ca_cert), "--ca-key", str(pki.ca_key)),
                *("-p", "expired,not-yet-valid,wrong-ca", "--timeout", "20"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while len(_minted(tmpdir)) < 6:  # 3 probes x (cert + key)
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "nothing minted"
                time.sleep(0.05)
            time.sleep(0.3)  # probes are now connected and waiting on the silent server
            sent = time.monotonic()
            proc.send_signal(sig)
            # gone at once, while probes are still in flight - not at the end of the run
            while _minted(tmpdir):
                assert time.monotonic() - sent < 1.0, _minted(tmpdir)
                time.sleep(0.02)
            _, err = proc.communicate(timeout=10)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == code, err
    assert took < 5, took  # not the 20-second probe timeout
    line = one_error_line(err)
    assert signal.Signals(sig).name in line and "removed" in line
    assert list(tmpdir.iterdir()) == []  # not even the empty directory
