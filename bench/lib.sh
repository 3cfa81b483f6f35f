# shellcheck shell=bash
# Shared helpers for the bench scripts. Source it: `. "$(dirname "$0")/lib.sh"`.
# Needs bash, python3, and psql for the Postgres helpers. Everything runs on loopback.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"

# Postgres used by the benchmarks: a superuser (to create databases) on loopback, and an
# existing database to connect to while creating and dropping the benchmark ones.
BENCH_PG_HOST="${BENCH_PG_HOST:-127.0.0.1}"
BENCH_PG_PORT="${BENCH_PG_PORT:-5432}"
BENCH_PG_USER="${BENCH_PG_USER:-postgres}"
BENCH_PG_ADMIN_DB="${BENCH_PG_ADMIN_DB:-test}"

log() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The release binary, built if missing (cargo build --release --locked; minutes on 2 cores).
bench_binary() {
    local bin="${PORTCULLIS_BIN:-$REPO_DIR/target/release/portcullis}"
    if [[ ! -x "$bin" ]]; then
        log "no release binary at $bin: building it (cargo build --release --locked)"
        (cd "$REPO_DIR" && cargo build --release --locked --bin portcullis) >&2
    fi
    [[ -x "$bin" ]] || die "no executable at $bin"
    printf '%s\n' "$bin"
}

# A TCP port on 127.0.0.1 that was free a moment ago (the CLI cannot take port 0 and
# report it back, so we ask the kernel for one and release it).
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Two distinct free ports, space-separated.
free_port_pair() {
    local a b
    a="$(free_port)"
    b="$(free_port)"
    while [[ "$b" == "$a" ]]; do b="$(free_port)"; done
    printf '%s %s\n' "$a" "$b"
}

pg_admin() { # SQL...
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$BENCH_PG_HOST" -p "$BENCH_PG_PORT" \
        -U "$BENCH_PG_USER" -d "$BENCH_PG_ADMIN_DB" -c "$*" >/dev/null
}

pg_url() { # DBNAME -> libpq URL
    printf 'postgres://%s@%s:%s/%s\n' "$BENCH_PG_USER" "$BENCH_PG_HOST" "$BENCH_PG_PORT" "$1"
}

pg_create_db() { pg_admin "CREATE DATABASE \"$1\""; }
pg_drop_db() { pg_admin "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"; }

pg_check() {
    command -v psql >/dev/null || die "psql not found (apt-get install postgresql-client)"
    pg_admin "SELECT 1" || die "cannot reach Postgres as $BENCH_PG_USER at $BENCH_PG_HOST:$BENCH_PG_PORT/$BENCH_PG_ADMIN_DB"
}

pg_server_version() {
    psql -X -tA -h "$BENCH_PG_HOST" -p "$BENCH_PG_PORT" -U "$BENCH_PG_USER" \
        -d "$BENCH_PG_ADMIN_DB" -c 'SHOW server_version' 2>/dev/null || echo unknown
}

# measure_startup LOG ADMIN_PORT IDLE_SECS -- COMMAND...
# Starts COMMAND (in the current directory; stdout discarded, stderr to LOG), polls
# http://127.0.0.1:ADMIN_PORT/health/ready every 2 ms until it answers 200, waits
# IDLE_SECS, reads VmRSS and VmHWM from /proc, sends SIGTERM and waits for the exit.
# Prints one JSON object: ready_ms, rss_kib, hwm_kib, stop_ms, exit.
# Fails (non-zero, message on stderr) if the server exits or is not ready within 60 s.
measure_startup() {
    local log="$1" port="$2" idle="$3"
    shift 3
    [[ "${1:-}" == "--" ]] && shift
    python3 - "$log" "$port" "$idle" "$@" <<'PY'
import http.client, json, signal, subprocess, sys, time

log_path, port, idle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
argv = sys.argv[4:]
TIMEOUT = 60.0

def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields

def kib(value):
    return int(value.split()[0])

with open(log_path, "wb") as err:
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    ready_ms = None
    try:
        while time.monotonic() - t0 < TIMEOUT:
            if proc.poll() is not None:
                sys.exit(f"server exited with status {proc.returncode} before /health/ready answered 200 (log: {log_path})")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health/ready")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    ready_ms = (time.monotonic() - t0) * 1000.0
                    break
            except OSError:
                pass
            time.sleep(0.002)
        if ready_ms is None:
            sys.exit(f"/health/ready did not answer 200 within {TIMEOUT:.0f} s (log: {log_path})")
        time.sleep(idle)
        status = proc_status(proc.pid)
        rss, hwm = kib(status["VmRSS"]), kib(status["VmHWM"])
        t1 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
            print(f"warning: server ignored SIGTERM for 30 s and was killed (log: {log_path})", file=sys.stderr)
        stop_ms = (time.monotonic() - t1) * 1000.0
        print(json.dumps({"ready_ms": round(ready_ms, 1), "rss_kib": rss, "hwm_kib": hwm,
                          "stop_ms": round(stop_ms, 1), "exit": code}))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
PY
}
