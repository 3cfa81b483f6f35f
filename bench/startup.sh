#!/usr/bin/env bash
# Start-up benchmark: time from process start to admin /health/ready = 200, and idle RSS
# 2 s after ready, on SQLite (fresh data directory per run) and on Postgres (fresh
# database per run, dropped afterwards). Prints a markdown table and saves it under
# bench/results/ (git-ignored).
#
#   bench/startup.sh                     # 5 runs per backend
#   RUNS=10 BACKENDS=sqlite bench/startup.sh
#
# Each run measures two starts on the same data: "fresh" (empty database: migrations,
# first RSA signing key, bootstrap admin password hash) and "restart" (everything exists;
# what an operator's restart or a new replica on an existing database looks like).
#
# Env: RUNS [5]  BACKENDS ["sqlite postgres"]  IDLE_SECS [2]  RESTART [1] (0: fresh only)
#      PORTCULLIS_BIN [target/release/portcullis; built with cargo if missing]
#      BENCH_PG_HOST [127.0.0.1] BENCH_PG_PORT [5432] BENCH_PG_USER [postgres]
#      BENCH_PG_ADMIN_DB [test]  (a superuser on loopback; trust auth or ~/.pgpass)
# Each run starts from an empty environment plus PORTCULLIS_* variables, with its
# working directory in a temporary folder; the bootstrap password on stdout is discarded.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

RUNS="${RUNS:-5}"
BACKENDS="${BACKENDS:-sqlite postgres}"
IDLE_SECS="${IDLE_SECS:-2}"
RESTART="${RESTART:-1}"

BIN="$(bench_binary)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench-startup.XXXXXX")"
CREATED_DBS=()

cleanup() {
    local db
    for db in "${CREATED_DBS[@]}"; do
        pg_drop_db "$db" || log "could not drop database $db"
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"

# run_once BACKEND N: one measured start, appended to $RESULTS. Runs in this shell (not a
# subshell) so that CREATED_DBS is seen by the cleanup trap if a run fails.
run_once() {
    local backend="$1" n="$2"
    local dir="$WORK/$backend-$n" ports http_port admin_port
    mkdir -p "$dir/data"
    ports="$(free_port_pair)"
    http_port="${ports% *}"
    admin_port="${ports#* }"
    local env_vars=(
        "PORTCULLIS_ISSUER=http://127.0.0.1:$http_port"
        "PORTCULLIS_DATA_DIR=$dir/data"
        "PORTCULLIS_HTTP__BIND=127.0.0.1:$http_port"
        "PORTCULLIS_ADMIN__BIND=127.0.0.1:$admin_port"
    )
    if [[ "$backend" == postgres ]]; then
        local db="portcullis_bench_startup_$$_$n"
        pg_drop_db "$db"
        pg_create_db "$db"
        CREATED_DBS+=("$db")
        env_vars+=("PORTCULLIS_DATABASE__URL=$(pg_url "$db")")
    fi
    local result phase phases=(fresh)
    [[ "$RESTART" == 1 ]] && phases+=(restart)
    for phase in "${phases[@]}"; do
        result="$(cd "$dir" && measure_startup "$dir/server-$phase.log" "$admin_port" "$IDLE_SECS" -- \
            env -i "PATH=$PATH" "HOME=$dir" "${env_vars[@]}" "$BIN" serve)" || {
            log "---- last lines of $dir/server-$phase.log"
            tail -n 20 "$dir/server-$phase.log" >&2 || true
            return 1
        }
        log "$backend run $n ($phase): $result"
        python3 -c 'import json,sys; d=json.loads(sys.argv[3]); d["backend"]=sys.argv[1]; d["phase"]=sys.argv[2]; print(json.dumps(d))' \
            "$backend" "$phase" "$result" >>"$RESULTS"
    done
    if [[ "$backend" == postgres ]]; then
        pg_drop_db "$db"
        unset 'CREATED_DBS[-1]'
    fi
}
for backend in $BACKENDS; do
    case "$backend" in
        sqlite) ;;
        postgres) pg_check ;;
        *) die "unknown backend '$backend' (sqlite or postgres)" ;;
    esac
    for n in $(seq 1 "$RUNS"); do
        run_once "$backend" "$n"
    done
done

mkdir -p "$BENCH_DIR/results"
OUT="$BENCH_DIR/results/startup-$(date +%Y%m%d-%H%M%S).md"
COMMIT="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo uncommitted)"
if [[ -n "$(git -C "$REPO_DIR" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    COMMIT="$COMMIT (dirty)"
fi

python3 - "$RESULTS" "$BIN" "$COMMIT" "$IDLE_SECS" "$(pg_server_version)" "$BACKENDS" <<'PY' | tee "$OUT"
import json, os, platform, statistics, sys, time

path, binary, commit, idle, pg_version, backends = sys.argv[1:7]
rows = [json.loads(line) for line in open(path)]

def mib(kib):
    return kib / 1024.0

print(f"## Start-up: process start to /health/ready = 200, idle RSS {idle} s after ready")
print()
print(f"- {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, commit {commit}, {os.cpu_count()} cores, "
      f"Linux {platform.release()}")
print(f"- binary {binary} ({os.path.getsize(binary) / 1048576:.1f} MiB)")
if "postgres" in backends.split():
    print(f"- Postgres {pg_version} on loopback; a fresh database per run")
print("- SQLite: a fresh data directory per run")
print()
print("| backend | start | runs | ready min (ms) | ready median (ms) | ready max (ms) "
      "| idle RSS min (MiB) | idle RSS median (MiB) | peak RSS median (MiB) | clean exit on SIGTERM |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
phases = ["fresh", "restart"]
for backend in backends.split():
    for phase in phases:
        rs = [r for r in rows if r["backend"] == backend and r["phase"] == phase]
        if not rs:
            continue
        ready = [r["ready_ms"] for r in rs]
        rss = [r["rss_kib"] for r in rs]
        hwm = [r["hwm_kib"] for r in rs]
        clean = sum(1 for r in rs if r["exit"] == 0)
        print(f"| {backend} | {phase} | {len(rs)} | {min(ready):.0f} | {statistics.median(ready):.0f} | "
              f"{max(ready):.0f} | {mib(min(rss)):.1f} | {mib(statistics.median(rss)):.1f} | "
              f"{mib(statistics.median(hwm)):.1f} | {clean}/{len(rs)} |")
print()
print("fresh = empty database (migrations, first RSA-2048 key generation, bootstrap admin "
      "password hash); restart = same data again. Peak RSS is VmHWM at the idle sample.")
print()
print("Per run (ready ms / idle RSS MiB):")
for backend in backends.split():
    for phase in phases:
        rs = [r for r in rows if r["backend"] == backend and r["phase"] == phase]
        if rs:
            runs = ", ".join(f"{r['ready_ms']:.0f}/{mib(r['rss_kib']):.1f}" for r in rs)
            print(f"- {backend} {phase}: {runs}")
PY
log "saved to $OUT"
