#!/usr/bin/env bash
# RS256 signing throughput on one core: our Signer (examples/sign_bench.rs) next to
# `openssl speed -seconds N rsa2048` in the same run, and the ratio ours/openssl for
# signing (issue 3's target: >= 90%). Prints a markdown table and saves it under
# bench/results/ (git-ignored).
#
#   bench/sign.sh
#   ROUNDS=5 SECONDS_PER_RUN=5 bench/sign.sh
#
# Env: ROUNDS [3] (each round runs both; even rounds run openssl first, to spread drift
#      in CPU frequency and background load over both sides)
#      SECONDS_PER_RUN [3]
# Needs: cargo (builds the example in release mode), openssl, python3.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

ROUNDS="${ROUNDS:-3}"
SECS="${SECONDS_PER_RUN:-3}"

command -v openssl >/dev/null || die "openssl not found"
log "building examples/sign_bench.rs (cargo build --release --example sign_bench)"
(cd "$REPO_DIR" && cargo build --release --example sign_bench) >&2
EXAMPLE="$REPO_DIR/target/release/examples/sign_bench"
[[ -x "$EXAMPLE" ]] || die "no executable at $EXAMPLE"

ours() {
    "$EXAMPLE" "$SECS" | sed -n 's/^RESULT sign_per_s=\([0-9.]*\).*/\1/p'
}

# `openssl speed` prints e.g. "rsa 2048 bits 0.000641s 0.000019s 1559.4 52000.5":
# the first plain number after the times is sign/s.
theirs() {
    openssl speed -seconds "$SECS" rsa2048 2>/dev/null | python3 -c '
import sys
for line in sys.stdin:
    f = line.split()
    if len(f) > 4 and f[0] == "rsa" and f[1] == "2048" and f[2] == "bits":
        nums = [x for x in f[3:] if not x.endswith("s")]
        print(nums[0]); break
else:
    sys.exit("no rsa 2048 line in openssl speed output")'
}

ROWS=()
for r in $(seq 1 "$ROUNDS"); do
    if (( r % 2 == 1 )); then
        o="$(ours)"; s="$(theirs)"
    else
        s="$(theirs)"; o="$(ours)"
    fi
    [[ -n "$o" && -n "$s" ]] || die "round $r: a measurement failed (ours='$o' openssl='$s')"
    log "round $r: ours $o/s, openssl $s/s"
    ROWS+=("$r $o $s")
done

mkdir -p "$BENCH_DIR/results"
OUT="$BENCH_DIR/results/sign-$(date +%Y%m%d-%H%M%S).md"
COMMIT="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo uncommitted)"
if [[ -n "$(git -C "$REPO_DIR" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    COMMIT="$COMMIT (dirty)"
fi
ROWS_TEXT="$(printf '%s\n' "${ROWS[@]}")" \
python3 - "$COMMIT" "$SECS" "$(openssl version)" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY' | tee "$OUT"
import os, platform, statistics, sys, time
commit, secs, ossl, load = sys.argv[1:5]
rows = [l.split() for l in os.environ["ROWS_TEXT"].splitlines() if l.strip()]
print("## RS256 signing, RSA-2048, one thread: our Signer vs openssl speed")
print()
print(f"- {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, commit {commit}, {os.cpu_count()} cores, "
      f"Linux {platform.release()}, {ossl}; load average at the end: {load}")
print(f"- {secs} s per measurement; ours signs RFC 9068 at+jwt claims (JSON serialisation, "
      "base64url and a fresh jti included), openssl signs a raw digest")
print()
print("| round | ours (sign/s) | openssl (sign/s) | ours / openssl |")
print("| ---: | ---: | ---: | ---: |")
for r, o, s in rows:
    print(f"| {r} | {float(o):.0f} | {float(s):.0f} | {float(o) / float(s) * 100:.0f}% |")
best_o = max(float(o) for _, o, _ in rows)
best_s = max(float(s) for _, _, s in rows)
print(f"| best of each | {best_o:.0f} | {best_s:.0f} | {best_o / best_s * 100:.0f}% |")
ratios = [float(o) / float(s) for _, o, s in rows]
print(f"| median ratio | | | {statistics.median(ratios) * 100:.0f}% |")
print()
print("Target (issue 3): ours / openssl >= 90%. A round far below the others was disturbed "
      "by other work on the machine (compare the load average); rerun rather than average it in.")
PY
log "saved to $OUT"
