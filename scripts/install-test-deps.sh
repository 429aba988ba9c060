#!/usr/bin/env bash
# Install everything the test suite needs, idempotently.
#
# - Real servers (nginx, Apache, HAProxy, Caddy, stunnel4, gunicorn, uvicorn, Node.js, lighttpd,
#   socat; on other TLS stacks: GnuTLS's gnutls-serv, a JDK for the Java JSSE server, nghttpx; gcc to build
#   the loopback-bind shim gnutls-serv runs with; Tomcat 10's jars (libtomcat10-java: the tests run
#   them from a private CATALINA_BASE, no service) and Go (golang-go) for tests/test_tomcat_go.py)
#   plus curl/openssl from
#   Debian, only when a binary is missing. Debian is stopped from starting them as services
#   (policy-rc.d), and any service process the install still managed to start is stopped (by
#   its Debian pid file, or by its executable and packaged config).
# - The project itself with its test extra (pytest, pytest-xdist, ruff, mypy), in .venv.
#
# Safe to run repeatedly; needs root only when something has to be installed with apt.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'install-test-deps: %s\n' "$*" >&2; }
die() { printf 'install-test-deps: ERROR: %s\n' "$*" >&2; exit 1; }

# binary -> Debian package
declare -A PKG_OF=(
    [/usr/sbin/nginx]=nginx-light
    [/usr/sbin/apache2]=apache2
    [/usr/sbin/haproxy]=haproxy
    [/usr/bin/caddy]=caddy
    [/usr/bin/stunnel4]=stunnel4
    [/usr/bin/gunicorn]=gunicorn
    [/usr/bin/node]=nodejs
    [/usr/lib/python3/dist-packages/uvicorn/__init__.py]=python3-uvicorn
    [/usr/sbin/lighttpd]=lighttpd
    [/usr/lib/lighttpd/mod_openssl.so]=lighttpd-mod-openssl
    [/usr/bin/socat]=socat
    [/usr/bin/gnutls-serv]=gnutls-bin
    [/usr/bin/javac]=default-jdk-headless
    [/usr/sbin/nghttpx]=nghttp2-proxy
    [/usr/bin/gcc]=gcc
    [/usr/include/dlfcn.h]=libc6-dev
    [/usr/share/java/tomcat10-catalina.jar]=libtomcat10-java
    [/usr/bin/go]=golang-go
)
# Debian pid files of the services these packages would start -> the service's executable.
declare -A SERVICE_PIDFILES=(
    [/run/nginx.pid]=/usr/sbin/nginx
    [/run/apache2/apache2.pid]=/usr/sbin/apache2
    [/run/haproxy.pid]=/usr/sbin/haproxy
    [/run/lighttpd.pid]=/usr/sbin/lighttpd
    [/run/nghttpx.pid]=/usr/sbin/nghttpx
)

missing_binaries() {
    local b
    for b in "${!PKG_OF[@]}"; do
        [[ -e "$b" ]] || echo "$b"
    done
    command -v curl >/dev/null 2>&1 || echo curl
    command -v openssl >/dev/null 2>&1 || echo openssl
}

# Pids of processes running the given executable (by /proc/PID/exe, not by name pattern).
pids_of_exe() {
    local exe=$1 p target
    for p in /proc/[0-9]*; do
        target=$(readlink "$p/exe" 2>/dev/null) || continue
        [[ "$target" == "$exe" ]] && echo "${p#/proc/}"
    done
    return 0
}

pidfile_pid() {
    local f=$1 pid
    [[ -r "$f" ]] || return 0
    pid=$(tr -dc '0-9' <"$f" | head -c 10)
    [[ -n "$pid" ]] && echo "$pid"
    return 0
}

stop_pid() {
    local pid=$1 what=$2 i
    kill -0 "$pid" 2>/dev/null || return 0
    log "stopping $what (pid $pid) started by the package install"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

install_servers() {
    if [[ $(id -u) -ne 0 ]]; then
        die "missing: $*; run this script as root (it installs Debian packages)"
    fi
    command -v apt-get >/dev/null 2>&1 || die "missing: $*; apt-get not available on this machine"

    # Remember what was running before, so we only stop what the install starts.
    declare -A before_pidfile=()
    local f
    for f in "${!SERVICE_PIDFILES[@]}"; do
        before_pidfile[$f]=$(pidfile_pid "$f")
    done
    local caddy_before stunnel_before nghttpx_before
    caddy_before=" $(pids_of_exe /usr/bin/caddy | tr '\n' ' ') "
    stunnel_before=" $(pids_of_exe /usr/bin/stunnel4 | tr '\n' ' ') "
    nghttpx_before=" $(pids_of_exe /usr/sbin/nghttpx | tr '\n' ' ') "

    local created_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# written by mtlscheck scripts/install-test-deps.sh\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    # shellcheck disable=SC2064
    trap "[[ $created_policy -eq 1 ]] && rm -f /usr/sbin/policy-rc.d" EXIT

    log "installing nginx-light apache2 haproxy caddy stunnel4 gunicorn nodejs python3-uvicorn lighttpd lighttpd-mod-openssl socat gnutls-bin default-jdk-headless nghttp2-proxy gcc libc6-dev libtomcat10-java golang-go curl openssl (missing: $*)"
    export DEBIAN_FRONTEND=noninteractive
    # A mirror hiccup should not fail CI: retry the whole update + install a few times.
    local attempt
    for attempt in 1 2 3; do
        if apt-get update && apt-get install -y --no-install-recommends \
            nginx-light apache2 haproxy caddy stunnel4 gunicorn nodejs python3-uvicorn \
            lighttpd lighttpd-mod-openssl socat gnutls-bin default-jdk-headless \
            nghttp2-proxy gcc libc6-dev libtomcat10-java golang-go curl \
            openssl ca-certificates \
            </dev/null; then
            break
        fi
        [[ $attempt -lt 3 ]] || die "apt-get failed three times"
        log "apt-get failed (attempt $attempt); retrying in 5 s"
        sleep 5
    done

    if [[ $created_policy -eq 1 ]]; then
        rm -f /usr/sbin/policy-rc.d
    fi
    trap - EXIT

    # Stop any service the install started despite policy-rc.d (new pid in a Debian pid file).
    local pid
    for f in "${!SERVICE_PIDFILES[@]}"; do
        pid=$(pidfile_pid "$f")
        if [[ -n "$pid" && "$pid" != "${before_pidfile[$f]}" \
              && "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "${SERVICE_PIDFILES[$f]}" ]]; then
            stop_pid "$pid" "service from $f"
        fi
    done
    # Caddy's Debian service has no pid file: stop new caddy processes running the packaged
    # /etc/caddy/Caddyfile (the test harness never uses that file).
    for pid in $(pids_of_exe /usr/bin/caddy); do
        [[ "$caddy_before" == *" $pid "* ]] && continue
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '/etc/caddy/Caddyfile'; then
            stop_pid "$pid" "caddy service"
        fi
    done
    # stunnel4's service (only when /etc/stunnel/*.conf exist) names its pid file in each
    # config: stop new stunnel4 processes running a config from /etc/stunnel (the harness
    # never uses that directory). gunicorn's Debian package has no service.
    for pid in $(pids_of_exe /usr/bin/stunnel4); do
        [[ "$stunnel_before" == *" $pid "* ]] && continue
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '/etc/stunnel/'; then
            stop_pid "$pid" "stunnel4 service"
        fi
    done
    # nghttpx's systemd unit has no pid file (its init script's is above): stop new nghttpx
    # processes running the packaged /etc/nghttpx/nghttpx.conf (the tests use --conf=/dev/null).
    for pid in $(pids_of_exe /usr/sbin/nghttpx); do
        [[ "$nghttpx_before" == *" $pid "* ]] && continue
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '/etc/nghttpx/'; then
            stop_pid "$pid" "nghttpx service"
        fi
    done
}

missing=$(missing_binaries | tr '\n' ' ')
# MTLSCHECK_FORCE_APT=1 runs the apt path even when everything is present (to test this script).
if [[ -n "${missing// /}" || "${MTLSCHECK_FORCE_APT:-0}" == 1 ]]; then
    install_servers $missing
    missing=$(missing_binaries | tr '\n' ' ')
    if [[ -n "${missing// /}" ]]; then
        die "still missing after apt-get install: $missing"
    fi
else
    log "nginx, apache2, haproxy, caddy, stunnel4, gunicorn, node, uvicorn, lighttpd, socat, gnutls-serv, javac, nghttpx, tomcat10 jars, go, curl, openssl: present"
fi

# The project and its test extra go into the project's virtual environment (.venv), never
# into the system Python (Debian's python3 refuses that: PEP 668).
# shellcheck source=scripts/venv.sh
source scripts/venv.sh
ensure_venv || die "cannot make the virtual environment .venv"
log "pip install -e '.[test]' into .venv"
"$VENV_PY" -m pip install --disable-pip-version-check -q -e '.[test]' </dev/null \
    || die "pip install -e '.[test]' failed"
