"""Run real TLS servers (nginx, Apache, HAProxy, Caddy, stunnel, gunicorn) as child processes
for tests.

A server is built from a configuration FRAGMENT (an nginx ``server { }`` block, an Apache
``<VirtualHost>`` (optionally with its ``Listen`` line), an HAProxy ``frontend`` section, a
Caddyfile site block, a stunnel service section, gunicorn settings lines) that is inserted
into a complete configuration rendered from a template in ``fixtures/servers/``.  Every file
the server writes (pid, logs, temp dirs, runtime dir) lives in a private temporary directory
that is removed on :meth:`RealServer.stop`.

The fragment is either text or a callable ``fragment(port) -> str``.  In text, these tokens are
replaced (plain ``str.replace``, so nginx/Caddy braces are left alone): ``{port}``, ``{workdir}``,
``{docroot}`` (a directory with an ``index.html`` that says ``ok``).

    with NginxServer(lambda port: nginx_config(pki, listen=f"127.0.0.1:{port}")) as srv:
        curl(srv.url)

    frag = HAProxyServer.mtls_fragment(server_cert=..., server_key=..., client_ca=..., crl=...)
    with HAProxyServer(frag) as srv:   # frag contains "{port}"
        ...

Servers listen on 127.0.0.1 only and run in the foreground in their own process group; ``stop``
terminates that group (SIGTERM, then SIGKILL after a timeout) by the child's pid.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "servers"
HOST = "127.0.0.1"
INSTALL_HINT = "run scripts/install-test-deps.sh"

Fragment = str | Callable[[int], str]
StrPath = str | os.PathLike[str]

# Normalised knobs for the default mTLS fragments.
VERIFY_MODES = ("required", "optional", "optional_no_ca", "off")
ALL_PROTOCOLS = "TLSv1.2 TLSv1.3"

_ADDR_IN_USE = re.compile(
    r"address already in use|cannot bind|could not bind|bind\(\)|connection in use", re.I
)


# Servers started and not yet stopped: stopped at interpreter exit as a safety net, so a test
# that forgets stop() (or an xdist worker that ends) never leaves an orphan server behind.
_RUNNING: set[RealServer] = set()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_RUNNING):
        server.stop()


class ServerError(RuntimeError):
    """A server could not be configured or started; the message carries its logs."""


# --------------------------------------------------------------------------- ports


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_accepts(port: int, timeout: float = 0.2) -> bool:
    """Whether a TCP connection to 127.0.0.1:port is accepted."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound (nobody listens on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on TCP ``port`` (Linux /proc/net/tcp{,6})."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                found.add(f[9])
    return found


def group_pids(pgid: int) -> list[int]:
    """Pids of the processes in process group ``pgid`` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def socket_inodes(pid: int) -> set[str]:
    found: set[str] = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return found
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


# --------------------------------------------------------------------------- helpers


def _render(text: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def _protocol_list(protocols: str) -> list[str]:
    found = protocols.replace(",", " ").split()
    allowed = {"TLSv1.2", "TLSv1.3"}
    if not found or not set(found) <= allowed:
        raise ValueError(f"protocols must be 'TLSv1.2', 'TLSv1.3' or both, not {protocols!r}")
    return sorted(set(found))


def _read(path: Path, limit: int = 20_000) -> str:
    try:
        data = path.read_text(errors="replace")
    except OSError:
        return ""
    return data[-limit:]


# --------------------------------------------------------------------------- base class


class RealServer:
    """One real server process built from a configuration fragment.

    ``port`` None picks a free port (and retries with another one if the server reports the
    address in use and the fragment depends on the port).  ``start()`` renders the config,
    validates it where the server can (``nginx -t``, ``apache2 -t``, ``haproxy -c``), starts the
    server in the foreground and waits until the port accepts connections.
    """

    name: ClassVar[str]
    binary: ClassVar[str]
    template: ClassVar[str]
    config_name: ClassVar[str]
    placeholder: ClassVar[str]

    def __init__(
        self,
        fragment: Fragment,
        *,
        port: int | None = None,
        startup_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        keep_workdir: bool = False,
    ) -> None:
        self.fragment = fragment
        self._fixed_port = port
        self.port: int = port if port is not None else 0
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.keep_workdir = keep_workdir
        self.workdir: Path | None = None
        self.config_text: str = ""
        self.proc: subprocess.Popen[bytes] | None = None

    # ----------------------------------------------------------- public API

    @classmethod
    def available(cls) -> bool:
        return os.access(cls.binary, os.X_OK)

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServerError(f"{self.name} is not started")
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/"

    @property
    def url_ip(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    @property
    def config_path(self) -> Path:
        return self._wd / self.config_name

    @property
    def docroot(self) -> Path:
        return self._wd / "www"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        """Everything the server wrote: its stderr/stdout and its error log."""
        if self.workdir is None:
            return ""
        parts = []
        for path in self.log_files():
            text = _read(path)
            if text.strip():
                parts.append(f"--- {path.name} ---\n{text.rstrip()}")
        return "\n".join(parts)

    def log_files(self) -> list[Path]:
        return [self._wd / "output.log", self._wd / "error.log"]

    def start(self) -> Self:
        if self.proc is not None:
            raise ServerError(f"{self.name} already started (pid {self.proc.pid})")
        if not self.available():
            raise ServerError(f"{self.binary} not found: {INSTALL_HINT}")
        attempts = 1 if self._fixed_port is not None or not self._port_dependent() else 3
        for attempt in range(attempts):
            self.port = self._fixed_port if self._fixed_port is not None else free_port()
            try:
                self._start_once()
                return self
            except ServerError as exc:
                retry = attempt + 1 < attempts and bool(_ADDR_IN_USE.search(str(exc)))
                self._cleanup()
                if not retry:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop the server process group by the child's pid; idempotent."""
        proc = self.proc
        if proc is not None:
            pgid = proc.pid  # start_new_session=True: the child leads its own group
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pgid, signal.SIGKILL)
                    proc.wait(self.stop_timeout)
            # Workers/children of the master (same process group) must be gone too.
            deadline = time.monotonic() + self.stop_timeout
            while process_group_exists(pgid):
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pgid, signal.SIGKILL)
                    time.sleep(0.05)
                    break
                time.sleep(0.02)
        self._cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.proc.pid}" if self.proc is not None else "stopped"
        return f"<{type(self).__name__} port={self.port} {state}>"

    # ----------------------------------------------------------- for subclasses

    def values(self) -> dict[str, str]:
        """Tokens replaced in the fragment and the template."""
        return {"port": str(self.port), "workdir": str(self._wd), "docroot": str(self.docroot)}

    def render(self) -> str:
        values = self.values()
        fragment = self.fragment(self.port) if callable(self.fragment) else self.fragment
        fragment = _render(fragment, values)
        template = (FIXTURES / self.template).read_text()
        extra = self.template_values(fragment)
        text = _render(template, {**values, **extra})
        return text.replace("{" + self.placeholder + "}", fragment)

    def template_values(self, fragment: str) -> dict[str, str]:
        return {}

    def prepare(self) -> None:
        """Create what the server needs in the work dir before it starts."""

    def check_command(self) -> list[str] | None:
        return None

    def run_command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C",
            "HOME": str(self._wd),
        }
        return env

    # ----------------------------------------------------------- internals

    @property
    def _wd(self) -> Path:
        if self.workdir is None:
            raise ServerError(f"{self.name}: no work directory (not started)")
        return self.workdir

    def _port_dependent(self) -> bool:
        return callable(self.fragment) or "{port}" in self.fragment

    def _start_once(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"mtlscheck-{self.name}-"))
        # Servers drop privileges for their workers (nginx: nobody, Apache: www-data): they
        # must be able to traverse the work dir and read the document root.
        self.workdir.chmod(0o755)
        self.docroot.mkdir()
        (self.docroot / "index.html").write_text("ok\n")
        self.prepare()
        self.config_text = self.render()
        self.config_path.write_text(self.config_text)

        check = self.check_command()
        if check is not None:
            try:
                res = subprocess.run(
                    check,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    env=self.environment(),
                    timeout=self.startup_timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise ServerError(f"{self.name}: config check timed out: {check}") from None
            if res.returncode != 0:
                out = (res.stdout + res.stderr).decode(errors="replace").strip()
                raise ServerError(
                    f"{self.name} rejected its configuration ({' '.join(check)}):\n{out}\n"
                    f"--- {self.config_path} ---\n{self._numbered_config()}"
                )

        output = open(self._wd / "output.log", "wb")  # noqa: SIM115 - the child owns it
        try:
            self.proc = subprocess.Popen(
                self.run_command(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=self._wd,
                start_new_session=True,
            )
        finally:
            output.close()
        _RUNNING.add(self)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                self._fail(f"exited with status {code} during start-up")
            if port_accepts(self.port) and self._owns_port():
                return
            if time.monotonic() > deadline:
                self._fail(f"port {self.port} not accepting after {self.startup_timeout:.0f} s")
            time.sleep(0.03)

    def _owns_port(self) -> bool:
        """Whether the listening socket on the port belongs to our process group: a port that
        accepts may belong to someone else (e.g. a clash while our server retries bind())."""
        assert self.proc is not None
        inodes = listening_inodes(self.port)
        if not inodes:
            return True  # no /proc/net (not Linux): trust the connect
        return any(inodes & socket_inodes(pid) for pid in group_pids(self.proc.pid))

    def _fail(self, what: str) -> None:
        self.stop_process_only()
        raise ServerError(
            f"{self.name} {what}; command: {' '.join(self.run_command())}\n{self.logs()}"
        )

    def stop_process_only(self) -> None:
        keep, self.keep_workdir = self.keep_workdir, True
        try:
            self.stop()
        finally:
            self.keep_workdir = keep

    def _numbered_config(self) -> str:
        return "\n".join(
            f"{i:4d}  {line}" for i, line in enumerate(self.config_text.splitlines(), 1)
        )

    def _cleanup(self) -> None:
        _RUNNING.discard(self)
        self.proc = None
        if self.workdir is not None and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


# --------------------------------------------------------------------------- nginx


class NginxServer(RealServer):
    """nginx; the fragment is one or more ``server { }`` blocks for the ``http`` context."""

    name = "nginx"
    binary = "/usr/sbin/nginx"
    template = "nginx.conf.tmpl"
    config_name = "nginx.conf"
    placeholder = "server_block"

    def prepare(self) -> None:
        (self._wd / "tmp").mkdir()

    def _base(self) -> list[str]:
        return [
            self.binary,
            "-p",
            f"{self._wd}/",
            "-e",
            str(self._wd / "error.log"),
            "-c",
            str(self.config_path),
        ]

    def check_command(self) -> list[str]:
        return [*self._base(), "-t", "-q"]

    def run_command(self) -> list[str]:
        return [*self._base(), "-g", "daemon off;"]

    @staticmethod
    def mtls_fragment(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        protocols: str = ALL_PROTOCOLS,
        verify_depth: int = 2,
        port: str = "{port}",
        body: str = "ok",
    ) -> str:
        """A ``server { }`` block on 127.0.0.1:port answering 200 ``body``.

        ``verify``: required (``ssl_verify_client on``), optional, optional_no_ca, off, or any
        other value verbatim.
        """
        mode = {"required": "on"}.get(verify, verify)
        lines = [
            "server {",
            f"    listen {HOST}:{port} ssl;",
            "    server_name localhost;",
            f"    ssl_certificate {server_cert};",
            f"    ssl_certificate_key {server_key};",
            f"    ssl_protocols {' '.join(_protocol_list(protocols))};",
        ]
        if client_ca is not None:
            lines.append(f"    ssl_client_certificate {client_ca};")
        lines.append(f"    ssl_verify_client {mode};")
        lines.append(f"    ssl_verify_depth {verify_depth};")
        if crl is not None:
            lines.append(f"    ssl_crl {crl};")
        lines += [
            "    location / {",
            "        default_type text/plain;",
            f'        return 200 "{body}\\n";',
            "    }",
            "}",
        ]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- Apache


APACHE_MODULES = Path("/usr/lib/apache2/modules")


def _apache_user() -> tuple[str, str]:
    for user, group in (("www-data", "www-data"), ("nobody", "nogroup")):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return user, group
    return "nobody", "nogroup"


class ApacheServer(RealServer):
    """Apache httpd 2.4 with mod_ssl; the fragment is a ``<VirtualHost>`` (plus, optionally,
    its own ``Listen`` line: without one the template adds ``Listen 127.0.0.1:PORT https``)."""

    name = "apache2"
    binary = "/usr/sbin/apache2"
    template = "apache2.conf.tmpl"
    config_name = "apache2.conf"
    placeholder = "vhost"

    def prepare(self) -> None:
        run = self._wd / "run"
        run.mkdir()
        run.chmod(0o755)
        (self._wd / "mime.types").write_text("")

    def log_files(self) -> list[Path]:
        return [*super().log_files(), self._wd / "access.log"]

    def template_values(self, fragment: str) -> dict[str, str]:
        user, group = _apache_user()
        has_listen = re.search(r"^\s*Listen\s", fragment, re.M | re.I) is not None
        return {
            "moddir": str(APACHE_MODULES),
            "user": user,
            "group": group,
            "listen": "" if has_listen else f"Listen {HOST}:{self.port} https",
        }

    def check_command(self) -> list[str]:
        return [self.binary, "-f", str(self.config_path), "-t"]

    def run_command(self) -> list[str]:
        return [self.binary, "-f", str(self.config_path), "-DFOREGROUND"]

    @staticmethod
    def mtls_fragment(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        protocols: str = ALL_PROTOCOLS,
        verify_depth: int = 2,
        port: str = "{port}",
    ) -> str:
        """A ``<VirtualHost 127.0.0.1:port>`` serving the harness docroot (``ok``).

        ``verify``: required (``SSLVerifyClient require``), optional, optional_no_ca, off
        (``none``), or any other value verbatim.
        """
        mode = {"required": "require", "off": "none"}.get(verify, verify)
        proto = " ".join("+" + p for p in _protocol_list(protocols))
        lines = [
            f"<VirtualHost {HOST}:{port}>",
            "    ServerName localhost",
            "    SSLEngine on",
            f"    SSLProtocol -all {proto}",
            f'    SSLCertificateFile "{server_cert}"',
            f'    SSLCertificateKeyFile "{server_key}"',
        ]
        if client_ca is not None:
            lines.append(f'    SSLCACertificateFile "{client_ca}"')
        lines.append(f"    SSLVerifyClient {mode}")
        lines.append(f"    SSLVerifyDepth {verify_depth}")
        if crl is not None:
            lines.append(f'    SSLCARevocationFile "{crl}"')
            lines.append("    SSLCARevocationCheck chain")
        lines.append("</VirtualHost>")
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- HAProxy


def combined_pem(server_cert: StrPath, server_key: StrPath) -> Path:
    """HAProxy wants cert + key in one file: write ``<key>.haproxy.pem`` (0600) and return it."""
    key = Path(server_key)
    out = key.with_name(key.name + ".haproxy.pem")
    data = Path(server_cert).read_bytes().rstrip(b"\n") + b"\n" + key.read_bytes()
    if not out.exists() or out.read_bytes() != data:
        tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    return out


class HAProxyServer(RealServer):
    """HAProxy 2.6; the fragment is a ``frontend`` section (and backends if it needs any)."""

    name = "haproxy"
    binary = "/usr/sbin/haproxy"
    template = "haproxy.cfg.tmpl"
    config_name = "haproxy.cfg"
    placeholder = "frontend"

    def log_files(self) -> list[Path]:
        return [self._wd / "output.log"]

    def check_command(self) -> list[str]:
        return [self.binary, "-c", "-q", "-f", str(self.config_path)]

    def run_command(self) -> list[str]:
        return [self.binary, "-f", str(self.config_path), "-db"]

    @staticmethod
    def mtls_fragment(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        protocols: str = ALL_PROTOCOLS,
        port: str = "{port}",
        body: str = "ok",
    ) -> str:
        """A ``frontend`` on 127.0.0.1:port answering 200 ``body`` (``http-request return``).

        ``verify``: required, optional, off (``none``), or any other value verbatim.  The cert
        and key are combined into ``<server_key>.haproxy.pem`` (see :func:`combined_pem`).
        """
        mode = {"off": "none", "optional_no_ca": "optional"}.get(verify, verify)
        protos = _protocol_list(protocols)
        bind = [f"bind {HOST}:{port} ssl crt {combined_pem(server_cert, server_key)}"]
        if client_ca is not None:
            bind.append(f"ca-file {client_ca}")
        bind.append(f"verify {mode}")
        if crl is not None:
            bind.append(f"crl-file {crl}")
        bind.append(f"ssl-min-ver {protos[0]} ssl-max-ver {protos[-1]}")
        return (
            "frontend mtls\n"
            f"    {' '.join(bind)}\n"
            f'    http-request return status 200 content-type text/plain string "{body}"\n'
        )


# --------------------------------------------------------------------------- Caddy


class CaddyServer(RealServer):
    """Caddy 2.6; the fragment is a Caddyfile site block.  Admin API, automatic HTTPS and
    persistence are off and its storage is in the work dir, so it never touches the network.

    Note: ``{port}`` is replaced by the harness, so Caddy's own ``{port}`` request placeholder is
    not usable in fragments (write ``{http.request.port}``).
    """

    name = "caddy"
    binary = "/usr/bin/caddy"
    template = "Caddyfile.tmpl"
    config_name = "Caddyfile"
    placeholder = "site_block"

    def log_files(self) -> list[Path]:
        return [self._wd / "output.log"]

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["XDG_DATA_HOME"] = str(self._wd / "xdg-data")
        env["XDG_CONFIG_HOME"] = str(self._wd / "xdg-config")
        return env

    def check_command(self) -> list[str]:
        # `caddy adapt` only parses (fast, no side effects); errors name the line.
        return [self.binary, "adapt", "--config", str(self.config_path), "--adapter", "caddyfile"]

    def run_command(self) -> list[str]:
        return [self.binary, "run", "--config", str(self.config_path), "--adapter", "caddyfile"]

    @staticmethod
    def mtls_fragment(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        protocols: str = ALL_PROTOCOLS,
        port: str = "{port}",
        body: str = "ok",
    ) -> str:
        """A host-less site ``https://:port`` answering 200 ``body``.

        Host-less on purpose: with ``https://localhost:PORT, https://127.0.0.1:PORT`` Caddy
        applies ``client_auth`` only to connections whose SNI matches, and a client connecting
        by IP sends no SNI, so it got through without a certificate (then HTTP 421).

        ``verify``: required (``require_and_verify``), optional (``verify_if_given``), off (no
        ``client_auth``), or a Caddy mode verbatim (``request``, ``require``).  Caddy 2.6 has
        no CRL support for client certificates: ``crl`` must be None.
        """
        if crl is not None:
            raise ValueError("Caddy 2.6 cannot check client certificates against a CRL")
        mode = {"required": "require_and_verify", "optional": "verify_if_given"}.get(verify, verify)
        protos = _protocol_list(protocols)
        tls = [
            f"    tls {server_cert} {server_key} {{",
            f"        protocols {protos[0].replace('TLSv', 'tls')} "
            f"{protos[-1].replace('TLSv', 'tls')}",
        ]
        if verify != "off":
            tls.append("        client_auth {")
            tls.append(f"            mode {mode}")
            if client_ca is not None:
                tls.append(f"            trusted_ca_cert_file {client_ca}")
            tls.append("        }")
        tls.append("    }")
        return (
            f"https://:{port} {{\n"
            f"    bind {HOST}\n" + "\n".join(tls) + f'\n    respond "{body}" 200\n'
            "}\n"
        )


# --------------------------------------------------------------------------- stunnel


def _verify_mode(verify: str, supported: tuple[str, ...], server: str) -> str:
    if verify not in supported:
        raise ValueError(f"{server}: verify must be one of {', '.join(supported)}, not {verify!r}")
    return verify


class StunnelServer(RealServer):
    """stunnel 5 (OpenSSL) in server mode; the fragment is a service section (``[name]`` and
    its options).  No pid file, logs on stderr (``output.log``).

    The interesting property for the tests: on TLS 1.3 it sends its certificate alert right
    after reading the client's Finished and closes at once, so a client that writes before it
    reads can lose the alert (curl exit 55).
    """

    name = "stunnel"
    binary = "/usr/bin/stunnel4"
    template = "stunnel.conf.tmpl"
    config_name = "stunnel.conf"
    placeholder = "service"

    def log_files(self) -> list[Path]:
        return [self._wd / "output.log"]

    def run_command(self) -> list[str]:
        return [self.binary, str(self.config_path)]

    @staticmethod
    def mtls_fragment(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        protocols: str = ALL_PROTOCOLS,
        port: str = "{port}",
    ) -> str:
        """A service on 127.0.0.1:port whose backend (``exec``, one per connection) answers
        200 ``ok`` (``fixtures/servers/stunnel-http-ok.sh``).

        ``verify``: required (``verifyChain`` + ``requireCert``), optional (``verifyChain``,
        ``requireCert = no``: verify a certificate if one is sent) or off (no certificate
        requested).  stunnel has no mode that requests a certificate without verifying it.
        """
        mode = _verify_mode(verify, ("required", "optional", "off"), "stunnel")
        protos = _protocol_list(protocols)
        lines = [
            "[mtls]",
            f"accept = {HOST}:{port}",
            f"cert = {server_cert}",
            f"key = {server_key}",
            f"sslVersionMin = {protos[0]}",
            f"sslVersionMax = {protos[-1]}",
        ]
        if client_ca is not None:
            lines.append(f"CAfile = {client_ca}")
        if crl is not None:
            lines.append(f"CRLfile = {crl}")
        if mode != "off":
            lines.append("verifyChain = yes")
            lines.append(f"requireCert = {'yes' if mode == 'required' else 'no'}")
        lines += [
            # No waiting for the client's close_notify once the backend has answered.
            "TIMEOUTclose = 0",
            "exec = /bin/sh",
            # execArgs has no quoting: the script's path must not contain blanks.
            f"execArgs = sh {FIXTURES / 'stunnel-http-ok.sh'}",
        ]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- gunicorn


class GunicornServer(RealServer):
    """Debian's gunicorn 20.1 (Python's ``ssl`` module on /usr/bin/python3) serving
    ``fixtures/servers/wsgi_ok.py`` (200 ``ok``) with one sync worker; the fragment is Python
    settings lines for its config file (``bind``, ``certfile``, ``cert_reqs``, ...).

    Like stunnel, on TLS 1.3 it sends the certificate alert and closes at once.
    """

    name = "gunicorn"
    binary = "/usr/bin/gunicorn"
    template = "gunicorn.conf.py.tmpl"
    config_name = "gunicorn.conf.py"
    placeholder = "settings"

    def log_files(self) -> list[Path]:
        return [*super().log_files(), self._wd / "access.log"]

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in fixtures/servers
        return env

    def run_command(self) -> list[str]:
        return [
            self.binary,
            "-c",
            str(self.config_path),
            "--pythonpath",
            str(FIXTURES),
            "wsgi_ok:app",
        ]

    @staticmethod
    def mtls_fragment(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        protocols: str = ALL_PROTOCOLS,
        port: str = "{port}",
    ) -> str:
        """Settings for 127.0.0.1:port with ``--certfile/--keyfile/--ca-certs/--cert-reqs``.

        ``verify``: required (``cert_reqs = 2``, CERT_REQUIRED), optional (1, CERT_OPTIONAL:
        a certificate that is sent must verify) or off (0).  gunicorn 20.1 hands these to
        ``ssl.wrap_socket``, which cannot check a CRL (``crl`` must be None) nor pin TLS 1.3
        alone (``protocols`` is both versions or TLSv1.2).
        """
        if crl is not None:
            raise ValueError("gunicorn 20.1 (ssl.wrap_socket) cannot check a CRL")
        mode = _verify_mode(verify, ("required", "optional", "off"), "gunicorn")
        protos = _protocol_list(protocols)
        if protos == ["TLSv1.3"]:
            raise ValueError("gunicorn 20.1 cannot offer TLS 1.3 alone")
        lines = [
            f'bind = ["{HOST}:{port}"]',
            f"certfile = {str(server_cert)!r}",
            f"keyfile = {str(server_key)!r}",
            f"cert_reqs = {({'required': 2, 'optional': 1, 'off': 0})[mode]}",
            # A name from the ssl module's PROTOCOL_* (gunicorn's validator maps it).
            f"ssl_version = {'TLSv1_2' if protos == ['TLSv1.2'] else 'TLS_SERVER'!r}",
        ]
        if client_ca is not None:
            lines.append(f"ca_certs = {str(client_ca)!r}")
        return "\n".join(lines) + "\n"


UVICORN_MODULE = Path("/usr/lib/python3/dist-packages/uvicorn/__init__.py")


class UvicornServer(RealServer):
    """Debian's uvicorn (python3-uvicorn, Python's ``ssl`` module on /usr/bin/python3) serving
    ``fixtures/servers/asgi_ok.py``; the fragment is command-line arguments, one per line
    (uvicorn has no config file), rendered into ``uvicorn.args`` in the work dir."""

    name = "uvicorn"
    binary = "/usr/bin/python3"
    template = "uvicorn.args.tmpl"
    config_name = "uvicorn.args"
    placeholder = "args"

    @classmethod
    def available(cls) -> bool:
        return UVICORN_MODULE.exists() and os.access(cls.binary, os.X_OK)

    def template_values(self, fragment: str) -> dict[str, str]:
        return {"fixtures": str(FIXTURES)}

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in fixtures/servers
        return env

    def run_command(self) -> list[str]:
        args = [
            line
            for line in self.config_path.read_text().splitlines()
            if line and not line.startswith("#")
        ]
        return [self.binary, "-m", "uvicorn", *args]

    @staticmethod
    def mtls_fragment(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        port: str = "{port}",
    ) -> str:
        """``--ssl-cert-reqs 2`` (required) / 1 (optional) / 0 (off) on 127.0.0.1:port.
        uvicorn hands these to Python's ``ssl``, which has no CRL option here."""
        if crl is not None:
            raise ValueError("uvicorn's --ssl-* options cannot check a CRL")
        mode = _verify_mode(verify, ("required", "optional", "off"), "uvicorn")
        lines = [
            "--host", HOST, "--port", port,
            "--ssl-certfile", str(server_cert), "--ssl-keyfile", str(server_key),
            "--ssl-cert-reqs", str({"required": 2, "optional": 1, "off": 0}[mode]),
        ]  # fmt: skip
        if client_ca is not None:
            lines += ["--ssl-ca-certs", str(client_ca)]
        return "\n".join(lines)


# --------------------------------------------------------------------------- lighttpd


class LighttpdServer(RealServer):
    """lighttpd 1.4 with mod_openssl (Debian: lighttpd + lighttpd-mod-openssl); the fragment is
    the ``ssl.*`` lines of the global scope (the template sets the port, docroot and logs)."""

    name = "lighttpd"
    binary = "/usr/sbin/lighttpd"
    template = "lighttpd.conf.tmpl"
    config_name = "lighttpd.conf"
    placeholder = "ssl"

    @classmethod
    def available(cls) -> bool:
        return os.access(cls.binary, os.X_OK) and LIGHTTPD_OPENSSL.exists()

    def check_command(self) -> list[str]:
        return [self.binary, "-tt", "-f", str(self.config_path)]

    def run_command(self) -> list[str]:
        return [self.binary, "-D", "-f", str(self.config_path)]

    @staticmethod
    def mtls_fragment(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        protocols: str = ALL_PROTOCOLS,
    ) -> str:
        """``ssl.verifyclient.activate`` + ``enforce`` (required), ``activate`` without
        ``enforce`` (optional: lighttpd then lets every client in, with or without a valid
        certificate, and only tells the application) or no client auth (off)."""
        mode = _verify_mode(verify, ("required", "optional", "off"), "lighttpd")
        protos = _protocol_list(protocols)
        lines = [
            'ssl.engine = "enable"',
            f'ssl.pemfile = "{server_cert}"',
            f'ssl.privkey = "{server_key}"',
            f'ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "{protos[0]}", '
            f'"MaxProtocol" => "{protos[-1]}")',
        ]
        if client_ca is not None:
            lines.append(f'ssl.ca-file = "{client_ca}"')
        if crl is not None:
            lines.append(f'ssl.ca-crl-file = "{crl}"')
        if mode != "off":
            lines.append('ssl.verifyclient.activate = "enable"')
            lines.append(
                f'ssl.verifyclient.enforce = "{"enable" if mode == "required" else "disable"}"'
            )
            lines.append("ssl.verifyclient.depth = 2")
        return "\n".join(lines) + "\n"


LIGHTTPD_OPENSSL = Path("/usr/lib/lighttpd/mod_openssl.so")


# --------------------------------------------------------------------------- command-line servers


class _CommandLineServer(RealServer):
    """A server without a config file: the fragment is its arguments, one per line, rendered
    into ``cmdline.args`` in the work dir (after the binary)."""

    template = "cmdline.args.tmpl"
    config_name = "cmdline.args"
    placeholder = "args"

    def log_files(self) -> list[Path]:
        return [self._wd / "output.log"]

    def arguments(self) -> list[str]:
        return [
            line
            for line in self.config_path.read_text().splitlines()
            if line and not line.startswith("#")
        ]

    def run_command(self) -> list[str]:
        return [self.binary, *self.arguments()]


class SocatServer(_CommandLineServer):
    """socat's ``OPENSSL-LISTEN`` (OpenSSL, one forked child per connection) in front of
    ``fixtures/servers/stunnel-http-ok.sh`` (reads the request head, answers 200 ``ok``)."""

    name = "socat"
    binary = "/usr/bin/socat"

    @staticmethod
    def mtls_fragment(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        protocols: str = ALL_PROTOCOLS,
        port: str = "{port}",
    ) -> str:
        """``verify=1`` (required: socat's OpenSSL server always fails a client without a
        certificate when it verifies) or ``verify=0`` (off).  socat 1.7 has no CRL option."""
        if crl is not None:
            raise ValueError("socat 1.7 cannot check a CRL")
        mode = _verify_mode(verify, ("required", "off"), "socat")
        protos = [p.replace("TLSv", "TLS") for p in _protocol_list(protocols)]
        opts = [
            f"OPENSSL-LISTEN:{port}",
            f"bind={HOST}",
            "reuseaddr",
            "fork",
            "backlog=128",  # the default 5 drops SYNs under a parallel probe run (1 s stalls)
            f"cert={server_cert}",
            f"key={server_key}",
            f"verify={1 if mode == 'required' else 0}",
            f"openssl-min-proto-version={protos[0]}",
            f"openssl-max-proto-version={protos[-1]}",
        ]
        if client_ca is not None:
            opts.append(f"cafile={client_ca}")
        return "\n".join([",".join(opts), f"SYSTEM:sh {FIXTURES / 'stunnel-http-ok.sh'}"])


class OpenSSLServer(_CommandLineServer):
    """``openssl s_server -www`` (one connection at a time; answers any GET with a 200 status
    page).  ``-Verify 1`` requires a certificate, ``-verify 1`` only requests one; both with
    ``-verify_return_error``, without which s_server lets a certificate that fails
    verification in."""

    name = "openssl"
    binary = "/usr/bin/openssl"

    @staticmethod
    def mtls_fragment(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        protocols: str = ALL_PROTOCOLS,
        port: str = "{port}",
    ) -> str:
        mode = _verify_mode(verify, ("required", "optional", "off"), "openssl s_server")
        protos = _protocol_list(protocols)
        args = [
            "s_server", "-accept", f"{HOST}:{port}",
            "-cert", str(server_cert), "-key", str(server_key), "-www", "-quiet",
            "-min_protocol", protos[0], "-max_protocol", protos[-1],
        ]  # fmt: skip
        if client_ca is not None:
            args += ["-CAfile", str(client_ca)]
        if crl is not None:
            args += ["-CRL", str(crl), "-crl_check"]
        if mode != "off":
            args += ["-Verify" if mode == "required" else "-verify", "1", "-verify_return_error"]
        return "\n".join(args)


class PythonSslServer(_CommandLineServer):
    """``fixtures/servers/python_https.py`` on /usr/bin/python3: Python's ``ssl`` module behind
    ``http.server`` (threading), ``asyncio.start_server``, or a TLS layer whose application
    hangs up on everyone (``hangup-reset`` / ``hangup-close``); see that file."""

    name = "python-ssl"
    binary = "/usr/bin/python3"

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in fixtures/servers
        return env

    def run_command(self) -> list[str]:
        return [self.binary, str(FIXTURES / "python_https.py"), *self.arguments()]

    @staticmethod
    def mtls_fragment(
        *,
        server_cert: StrPath,
        server_key: StrPath,
        client_ca: StrPath | None,
        crl: StrPath | None = None,
        verify: str = "required",
        protocols: str = ALL_PROTOCOLS,
        port: str = "{port}",
        variant: str = "threading",
    ) -> str:
        """CERT_REQUIRED (required), CERT_OPTIONAL (optional: a certificate that is sent must
        verify) or CERT_NONE (off); ``crl`` turns on VERIFY_CRL_CHECK_LEAF."""
        mode = _verify_mode(verify, ("required", "optional", "off"), "python-ssl")
        protos = _protocol_list(protocols)
        if protos == ["TLSv1.3"]:
            raise ValueError("python-ssl: TLS 1.3 alone is not offered by this harness")
        args = ["--port", port, "--cert", str(server_cert), "--key", str(server_key)]
        args += ["--verify", mode, "--variant", variant]
        if protos == ["TLSv1.2"]:
            args += ["--max-version", "TLSv1_2"]
        if client_ca is not None:
            args += ["--ca", str(client_ca)]
        if crl is not None:
            args += ["--crl", str(crl)]
        return "\n".join(args)


SERVER_CLASSES: dict[str, type[RealServer]] = {
    cls.name: cls
    for cls in (
        NginxServer,
        ApacheServer,
        HAProxyServer,
        CaddyServer,
        StunnelServer,
        GunicornServer,
        UvicornServer,
    )
}
# LighttpdServer, SocatServer, OpenSSLServer and PythonSslServer are not listed: their
# answers differ (s_server's status page, no CRL in socat); tests/test_unseen_servers.py covers
# them.
