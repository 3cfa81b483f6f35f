#!/usr/bin/env bash
# The ceiling of req/s on this machine for a server that sleeps between requests: wrk
# against bench/floor.rs, a server that does no work at all (see there). Compare run.sh's
# c=1 rows with it: at concurrency 1 every server is bounded by the round trip, and only
# one that polls instead of sleeping (http.idle_poll_us) can beat this one.
#
#   bench/floor.sh                 # c=1, 10 s
#   CONCURRENCY="1 16 64" DURATION=5s bench/floor.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CONCURRENCY="${CONCURRENCY:-1}"
DURATION="${DURATION:-10s}"
command -v wrk >/dev/null || die "wrk not found (apt-get install -y wrk)"
command -v rustc >/dev/null || die "rustc not found"

work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
rustc -O --edition 2021 -o "$work/floor" "$REPO_DIR/bench/floor.rs"
"$work/floor" 127.0.0.1:0 >"$work/addr" &
pid=$!
for _ in $(seq 50); do [[ -s "$work/addr" ]] && break; sleep 0.1; done
addr="$(cat "$work/addr")"

echo "| floor server | conc | req/s | p50 | p99 |"
echo "|---|---:|---:|---:|---:|"
for c in $CONCURRENCY; do
    out="$(wrk -t1 -c"$c" -d"$DURATION" --latency "http://$addr/jwks.json")"
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    echo "| bench/floor.rs | $c | $rps | $p50 | $p99 |"
done
