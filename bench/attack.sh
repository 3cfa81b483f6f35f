#!/usr/bin/env bash
# The attack scenario (issue 19): /token latency and the rightful user's login during a
# login flood. Installs wrk if missing (apt-get), builds the release binary and the
# argon2_bench example if missing, then runs bench/attack.py (standard library only) and
# saves its report as bench/results/attack-<time>.md.
#
#   bench/attack.sh
#   bench/attack.sh --duration 20 --flood-rate 600      # arguments go to attack.py
#
# Environment: PORTCULLIS_BIN (target/release/portcullis), LOG_LEVEL (server default).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! command -v wrk >/dev/null; then
    log "wrk not found: installing it (apt-get install -y wrk)"
    { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; } >&2
fi
command -v wrk >/dev/null || die "wrk is missing and could not be installed"
command -v python3 >/dev/null || die "python3 not found"

BIN="$(bench_binary)"
argon2_bin="$REPO_DIR/target/release/examples/argon2_bench"
if [[ ! -x "$argon2_bin" || "$REPO_DIR/examples/argon2_bench.rs" -nt "$argon2_bin" ]]; then
    log "building examples/argon2_bench.rs for the hashing capacity (cargo build --release --locked --example argon2_bench)"
    (cd "$REPO_DIR" && cargo build --release --locked --example argon2_bench) >&2 ||
        log "argon2_bench could not be built: the report gives no hashing capacity"
fi

mkdir -p "$BENCH_DIR/results"
out="$BENCH_DIR/results/attack-$(date -u +%Y%m%dT%H%M%SZ).md"
PORTCULLIS_BIN="$BIN" python3 "$BENCH_DIR/attack.py" --out "$out" "$@"
log "saved to $out"
