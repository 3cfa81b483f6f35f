#!/usr/bin/env bash
# Load harness (issue 4): starts Portcullis (release binary; fresh SQLite data directory or
# fresh Postgres database) and the reference provider (node-oidc-provider, from
# ../shared/bench-peer), runs the same wrk scenarios against both in one run, and prints
# one markdown table with both servers side by side and the ratio ours/peer.
#
#   bench/run.sh                                   # everything, SQLite, 10 s per cell
#   BACKEND=postgres bench/run.sh
#   SCENARIOS="jwks discovery" DURATION=10s bench/run.sh
#   PEER=0 SCENARIOS="token_jwt" CONCURRENCY=64 bench/run.sh
#
# Scenarios (SCENARIOS, in this order by default):
#   token_jwt  client_credentials, RS256 JWT access token        (peer: bench.sh token_jwt)
#   password   password grant, one argon2 hash per request       (peer: not supported)
#   refresh    refresh_token grant, chained: every response's refresh_token is used by a
#              later request; COUNT = concurrency chains          (peer: via auth code)
#   jwks       GET /jwks.json                                      (peer: /jwks)
#   discovery  GET /.well-known/openid-configuration               (both)
#   introspect POST /introspect of a valid client_credentials token (ours: RS256 JWT,
#              checked against the database on every call; peer: an opaque token from its
#              in-memory store, the only kind it can introspect)   (issue 6)
#   mixed      64 password requests in flight while token_jwt and then jwks are measured
#              at MIXED_CONCURRENCY (issue 4: p99 < 50 ms)          (ours only)
#
# Env: BACKEND [sqlite|postgres]  SCENARIOS [all above]  CONCURRENCY ["1 16 64"]
#      DURATION [10s] per cell (wrk syntax: 10s, 1m)  WRK_THREADS [1]
#      PEER [1] (0: Portcullis only)  PEER_DIR [/tmp/bench-peer]  PEER_SRC [../shared/bench-peer]
#      MIXED_CONCURRENCY ["1 16"]  MIXED_PASSWORD_CONCURRENCY [64]
#      PASSWORD_TIMEOUT [10s] wrk's --timeout for password requests (they queue for the
#        argon2 pool: 64 in flight on 2 cores wait ~1 s; wrk's default 2 s counts slower
#        answers as errors). Every other cell uses wrk's default, 2 s.
#      RATE_LIMIT [off|on]: off sets rate_limit.token_per_second=0 (every request comes
#        from 127.0.0.1; the peer has no limit)
#      LOG_LEVEL [server default: info, a line per request]  KEEP_LOGS [0]  SERVER_ENV [""] extra VAR=value words for the server
#        (experiments, e.g. "MALLOC_ARENA_MAX=2")  PORTCULLIS_BIN, BENCH_PG_* as in lib.sh
# Needs: wrk, curl, python3, node + npm (peer), psql (postgres).
# Output: the table on stdout and in bench/results/run-<backend>-<time>/summary.md, with
# raw wrk output, the generated Lua scripts and both servers' logs next to it.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

BACKEND="${BACKEND:-sqlite}"
SCENARIOS="${SCENARIOS:-token_jwt password refresh jwks discovery introspect mixed}"
CONCURRENCY="${CONCURRENCY:-1 16 64}"
DURATION="${DURATION:-10s}"
WRK_THREADS="${WRK_THREADS:-1}"
PEER="${PEER:-1}"
PEER_DIR="${PEER_DIR:-/tmp/bench-peer}"
PEER_SRC="${PEER_SRC:-$REPO_DIR/../shared/bench-peer}"
MIXED_CONCURRENCY="${MIXED_CONCURRENCY:-1 16}"
MIXED_PASSWORD_CONCURRENCY="${MIXED_PASSWORD_CONCURRENCY:-64}"
RATE_LIMIT="${RATE_LIMIT:-off}"
LOG_LEVEL="${LOG_LEVEL:-}"
SERVER_ENV="${SERVER_ENV:-}"
KEEP_LOGS="${KEEP_LOGS:-0}"
PASSWORD_TIMEOUT="${PASSWORD_TIMEOUT:-10s}"

BENCH_USER=bench-user
BENCH_PASSWORD="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
CLK_TCK="$(getconf CLK_TCK)"

case "$BACKEND" in sqlite | postgres) ;; *) die "BACKEND must be sqlite or postgres" ;; esac
for s in $SCENARIOS; do
    case "$s" in token_jwt | password | refresh | jwks | discovery | introspect | mixed) ;;
        *) die "unknown scenario '$s'" ;; esac
done
command -v wrk >/dev/null || {
    log "wrk not found: installing it (apt-get install -y wrk)"
    { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; } >&2
}
command -v wrk >/dev/null || die "wrk is missing and could not be installed"
command -v curl >/dev/null || die "curl not found"

# wrk duration -> seconds (for the mixed scenario's background load).
DUR_SECS="$(python3 -c '
import re, sys
m = re.fullmatch(r"(\d+)([smh]?)", sys.argv[1])
if not m: sys.exit("DURATION must look like 10s, 1m or 10")
print(int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)])' "$DURATION")"

BIN="$(bench_binary)"
STAMP="$(date +%Y%m%d-%H%M%S)"
OUT="$BENCH_DIR/results/run-$BACKEND-$STAMP"
mkdir -p "$OUT/raw"
RECORDS="$OUT/records.tsv"
: >"$RECORDS"
SRV_DIR="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench-run.XXXXXX")"
OURS_PID=""
PEER_PID=""
PG_DB=""

# The server's log is written in the temporary directory (at info level it has a line per
# request: hundreds of MB per run) and only its head and tail are kept, unless KEEP_LOGS=1.
save_ours_log() {
    [[ -f "$SRV_DIR/ours.log" ]] || return 0
    if [[ "$KEEP_LOGS" == 1 ]]; then
        cp "$SRV_DIR/ours.log" "$OUT/ours.log"
    else
        { head -n 100 "$SRV_DIR/ours.log"
          printf '\n[... %s lines in all; run with KEEP_LOGS=1 to keep every line ...]\n\n' \
              "$(wc -l <"$SRV_DIR/ours.log")"
          tail -n 300 "$SRV_DIR/ours.log"; } >"$OUT/ours.log"
    fi
}

cleanup() {
    local pid
    for pid in "$OURS_PID" "$PEER_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    [[ -n "$PG_DB" ]] && { pg_drop_db "$PG_DB" || log "could not drop database $PG_DB"; }
    save_ours_log || true
    rm -rf "$SRV_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# record SERVER SCENARIO CONC RPS P50 P99 REQUESTS ERRORS NON2XX CPU RSS_MIB NOTE
record() { local IFS=$'\t'; printf 'row\t%s\n' "$*" >>"$RECORDS"; }
# skip SERVER SCENARIO REASON
skip() { printf 'skip\t%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RECORDS"; log "SKIPPED: $2 ($1): $3"; }
# note TEXT (free text for the summary)
note() { printf 'note\t%s\n' "$1" >>"$RECORDS"; }

rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Before each cell, both servers are left to go quiet (at most 5 s): the peer's garbage
# collection after a c=64 cell, or our own pool winding down, would otherwise land in the
# next cell, which is always the other server's or a lower concurrency.
settle() {
    local i p before after pids=("$OURS_PID") busy
    [[ "${PEER_OK:-0}" == 1 && -n "${PEER_PID:-}" ]] && pids+=("$PEER_PID")
    for i in 1 2 3 4 5 6 7 8 9 10; do
        before=0 after=0
        for p in "${pids[@]}"; do before=$((before + $(cpu_ticks "$p"))); done
        sleep 0.5
        for p in "${pids[@]}"; do after=$((after + $(cpu_ticks "$p"))); done
        busy=$((after - before))
        # One tick in half a second is 2% of a core: quiet.
        [[ "$busy" -le 1 ]] && return 0
    done
    return 0
}

# ---------------------------------------------------------------------------------------
# Portcullis

SRV_ENV=()
start_ours() {
    local ports http_port admin_port
    ports="$(free_port_pair)"
    http_port="${ports% *}"
    admin_port="${ports#* }"
    OURS_BASE="http://127.0.0.1:$http_port"
    OURS_ADMIN="http://127.0.0.1:$admin_port"
    SRV_ENV=(
        "PORTCULLIS_ISSUER=$OURS_BASE"
        "PORTCULLIS_DATA_DIR=$SRV_DIR/data"
        "PORTCULLIS_HTTP__BIND=127.0.0.1:$http_port"
        "PORTCULLIS_ADMIN__BIND=127.0.0.1:$admin_port"
    )
    [[ -n "$LOG_LEVEL" ]] && SRV_ENV+=("PORTCULLIS_LOG__LEVEL=$LOG_LEVEL")
    # Extra variables for experiments, e.g. SERVER_ENV="MALLOC_ARENA_MAX=2".
    local kv
    for kv in $SERVER_ENV; do SRV_ENV+=("$kv"); done
    if [[ "$BACKEND" == postgres ]]; then
        pg_check
        PG_DB="portcullis_bench_run_$$"
        pg_drop_db "$PG_DB"
        pg_create_db "$PG_DB"
        SRV_ENV+=("PORTCULLIS_DATABASE__URL=$(pg_url "$PG_DB")")
    fi
    if [[ "$RATE_LIMIT" == off ]]; then
        # Older binaries have no rate limit (and refuse unknown keys): only set it if known.
        if srv "$BIN" config check >/dev/null 2>&1 </dev/null &&
            srv_with PORTCULLIS_RATE_LIMIT__TOKEN_PER_SECOND=0 "$BIN" config check >/dev/null 2>&1 </dev/null; then
            SRV_ENV+=("PORTCULLIS_RATE_LIMIT__TOKEN_PER_SECOND=0")
        fi
        # The per-endpoint buckets (issue 19) likewise, when the binary knows them.
        if srv_with PORTCULLIS_RATE_LIMIT__ENDPOINTS__OTHER__PER_SECOND=0 "$BIN" config check >/dev/null 2>&1 </dev/null; then
            for endpoint in AUTHORIZE LOGIN CONSENT SELECT_ACCOUNT LOGOUT USERINFO INTROSPECT REVOKE OTHER; do
                SRV_ENV+=("PORTCULLIS_RATE_LIMIT__ENDPOINTS__${endpoint}__PER_SECOND=0")
            done
        fi
    fi
    mkdir -p "$SRV_DIR/data"
    # Schema and benchmark accounts first, through the CLI, so the server starts on a
    # ready database (and, since a user exists, creates no bootstrap admin).
    srv "$BIN" migrate >"$OUT/ours-setup.log" 2>&1 </dev/null || {
        tail -n 20 "$OUT/ours-setup.log" >&2
        die "portcullis migrate failed"
    }
    setup_accounts
    (cd "$SRV_DIR" && exec env -i "PATH=$PATH" "HOME=$SRV_DIR" "${SRV_ENV[@]}" "$BIN" serve \
        >"$OUT/ours-stdout.log" 2>"$SRV_DIR/ours.log" </dev/null) &
    OURS_PID=$!
    local i
    for i in $(seq 1 600); do
        kill -0 "$OURS_PID" 2>/dev/null || { tail -n 20 "$SRV_DIR/ours.log" >&2; die "portcullis exited at start"; }
        [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$OURS_ADMIN/health/ready")" == 200 ]] && break
        sleep 0.1
    done
    [[ "$i" -lt 600 ]] || { tail -n 20 "$SRV_DIR/ours.log" >&2; die "portcullis not ready within 60 s"; }
    log "portcullis pid $OURS_PID on $OURS_BASE ($BACKEND)"
}

srv() { (cd "$SRV_DIR" && env -i "PATH=$PATH" "HOME=$SRV_DIR" "${SRV_ENV[@]}" "$@"); }
srv_with() { local extra="$1"; shift; (cd "$SRV_DIR" && env -i "PATH=$PATH" "HOME=$SRV_DIR" "${SRV_ENV[@]}" "$extra" "$@"); }

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

CC_SECRET=""
PW_SECRET=""
PW_CLIENT=bench-password
PW_SETUP_ERROR=""
CC_SETUP_ERROR=""
setup_accounts() {
    # stdout is the JSON answer; stderr carries the CLI's log lines (the development
    # master key warning, now that every CLI write signs its audit row), kept apart.
    local out err="$SRV_DIR/cli.stderr" resources=()
    # The peer's scenarios name an RFC 8707 resource (node-oidc-provider issues JWTs only
    # for one); since issue 18 ours grants only resources on the client's allow-list.
    # Older binaries have no --resource and ignored the parameter.
    if srv "$BIN" client create --help 2>/dev/null | grep -q -- '--resource'; then
        resources=(--resource https://rs.jwt.example --resource https://rs.opaque.example)
    fi
    if out="$(srv "$BIN" client create --name bench --client-id bench-client \
        --grant client_credentials --scope api:read --role introspector "${resources[@]}" \
        --json 2>"$err" </dev/null)"; then
        CC_SECRET="$(printf '%s' "$out" | json_field client_secret)"
    else
        CC_SETUP_ERROR="client create failed: $(tail -n 1 "$err")"
    fi
    if ! out="$(srv "$BIN" client create --name bench-password --client-id "$PW_CLIENT" \
        --grant password --grant refresh_token --scope api:read --scope offline_access \
        --json 2>"$err" </dev/null)"; then
        PW_SETUP_ERROR="client create --grant password failed: $(tail -n 1 "$err")"
        return 0
    fi
    PW_SECRET="$(printf '%s' "$out" | json_field client_secret)"
    if ! out="$(printf '%s\n' "$BENCH_PASSWORD" | srv "$BIN" user create "$BENCH_USER" \
        --password-stdin --json 2>"$err")"; then
        PW_SETUP_ERROR="user create failed: $(tail -n 1 "$err")"
    fi
}

# The status /token gives a valid client_credentials request (000 if no answer).
token_status() { # BASE CLIENT SECRET EXTRA-FORM...
    local base="$1" id="$2" secret="$3"
    shift 3
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "$id:$secret" "$@" "$base/token" || true
}

# ---------------------------------------------------------------------------------------
# The reference provider

start_peer() {
    if [[ ! -d "$PEER_DIR" ]]; then
        [[ -d "$PEER_SRC" ]] || { log "no peer at $PEER_SRC"; return 1; }
        cp -r "$PEER_SRC" "$PEER_DIR"
    fi
    if [[ ! -d "$PEER_DIR/node_modules/oidc-provider" ]]; then
        log "installing the peer's dependencies (npm ci in $PEER_DIR)"
        (cd "$PEER_DIR" && timeout 300 npm ci --no-audit --no-fund) >&2 || return 1
    fi
    PEER_PORT="$(free_port)"
    PEER_BASE="http://127.0.0.1:$PEER_PORT"
    (cd "$PEER_DIR" && PORT="$PEER_PORT" NODE_ENV=production exec node provider.mjs \
        >"$OUT/peer.log" 2>&1 </dev/null) &
    PEER_PID=$!
    local i
    for i in $(seq 1 300); do
        kill -0 "$PEER_PID" 2>/dev/null || { tail -n 20 "$OUT/peer.log" >&2; return 1; }
        [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PEER_BASE/.well-known/openid-configuration")" == 200 ]] && break
        sleep 0.1
    done
    [[ "$i" -lt 300 ]] || return 1
    log "peer (node-oidc-provider) pid $PEER_PID on $PEER_BASE"
}

# ---------------------------------------------------------------------------------------
# Load

# The peer's bench.sh for one scenario and one concurrency, then a record.
run_benchsh() { # SERVER SCENARIO CONC
    local server="$1" scen="$2" c="$3" dir="$OUT/raw/$1-$2-c$3"
    local base pid id secret jwks introspect
    settle
    if [[ "$server" == ours ]]; then
        base="$OURS_BASE" pid="$OURS_PID" id=bench-client secret="$CC_SECRET" jwks=/jwks.json
        introspect=/introspect
    else
        base="$PEER_BASE" pid="$PEER_PID" id=bench-client secret=bench-secret jwks=/jwks
        introspect=/token/introspection
    fi
    BASE="$base" TOKEN_PATH=/token JWKS_PATH="$jwks" DISCOVERY_PATH=/.well-known/openid-configuration \
        INTROSPECT_PATH="$introspect" CLIENT_ID="$id" CLIENT_SECRET="$secret" SERVER_PID="$pid" \
        SCENARIOS="$scen" CONCURRENCY="$c" DURATION="$DURATION" WRK_THREADS="$WRK_THREADS" OUT="$dir" \
        "$PEER_DIR/bench.sh" >"$dir.log" 2>&1 || { log "bench.sh failed for $server $scen c=$c (see $dir.log)"; }
    local result row
    result="$(grep -h '^RESULT' "$dir/$scen-c$c.txt" 2>/dev/null || true)"
    row="$(grep -h "^| $scen | $c |" "$dir/summary.md" 2>/dev/null || true)"
    if [[ -z "$result" || -z "$row" ]]; then
        skip "$server" "$scen" "c=$c: no result from bench.sh (see $dir.log)"
        return 0
    fi
    local cpu rss
    cpu="$(printf '%s' "$row" | awk -F'|' '{gsub(/ /,"",$9); print $9}')"
    rss="$(printf '%s' "$row" | awk -F'|' '{gsub(/ /,"",$10); print $10}')"
    record_result "$server" "$scen" "$c" "$result" "$cpu" "$rss" ""
}

# record_result SERVER SCENARIO CONC "RESULT k=v ..." CPU RSS NOTE
record_result() {
    local R_rps=NA R_p50_ms=NA R_p99_ms=NA R_requests=NA R_errors=NA R_non2xx=NA R_chain_breaks=""
    local kv
    for kv in ${4#RESULT }; do
        case "$kv" in
            rps=* | p50_ms=* | p99_ms=* | requests=* | errors=* | non2xx=* | chain_breaks=*)
                printf -v "R_${kv%%=*}" '%s' "${kv#*=}" ;;
            *) ;;
        esac
    done
    local note="$7"
    [[ -n "$R_chain_breaks" && "$R_chain_breaks" != 0 ]] && note="${note:+$note; }$R_chain_breaks broken chains"
    record "$1" "$2" "$3" "$R_rps" "$R_p50_ms" "$R_p99_ms" "$R_requests" "$R_errors" "$R_non2xx" "$5" "$6" "$note"
}

# Lua with a fixed request and bench.sh's RESULT line.
write_static_lua() { # FILE METHOD BODY AUTH
    {
        printf 'wrk.method = "%s"\n' "$2"
        if [[ -n "$3" ]]; then
            printf 'wrk.body = "%s"\n' "$3"
            printf 'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        fi
        [[ -n "$4" ]] && printf 'wrk.headers["Authorization"] = "%s"\n' "$4"
        cat <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests,
    e.connect + e.read + e.write + e.timeout + e.status, e.status))
end
LUA
    } >"$1"
}

# Lua for chained refreshes: each thread starts with its share of TOKENS_FILE in a pool;
# a request takes a token from the pool, a 200 response puts the refresh_token it carries
# back (the rotated one, or the same one if the server does not rotate). A request never
# reuses a token another request has in flight. A failed response loses its chain
# (counted as chain_breaks); when the pool is empty a request goes out with an invalid
# token and fails, so broken chains show up as errors rather than being hidden.
# With one wrk thread per WRK_THREADS and CONC/threads chains per thread.
write_refresh_lua() { # FILE AUTH EXTRA_BODY TOKENS_FILE PER_THREAD
    cat >"$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "$2"
local extra = "$3"
local tokens_file = "$4"
local per_thread = $5
local all = nil
local taken = 0
local threads = {}

function setup(thread)
  if all == nil then
    all = {}
    for line in io.lines(tokens_file) do
      if #line > 0 then all[#all + 1] = line end
    end
  end
  local mine = {}
  for _ = 1, per_thread do
    taken = taken + 1
    mine[#mine + 1] = all[taken] or "missing"
  end
  thread:set("initial", table.concat(mine, " "))
  -- wrk 4 calls request() once on the first thread right after init() to inspect it
  -- (script_verify_request); that request is never sent, so it must not take a token.
  thread:set("inspect_call", #threads == 0)
  threads[#threads + 1] = thread
end

function init(args)
  pool = {}
  for t in string.gmatch(initial, "%S+") do pool[#pool + 1] = t end
  chain_breaks = 0
end

function request()
  if inspect_call then
    inspect_call = false
    return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=inspected" .. extra)
  end
  local t = table.remove(pool) or "exhausted"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. t .. extra)
end

function response(status, headers, body)
  local t = nil
  if status == 200 then t = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"') end
  if t then pool[#pool + 1] = t else chain_breaks = chain_breaks + 1 end
end

done = function(summary, latency, requests)
  local e = summary.errors
  local breaks = 0
  for _, t in ipairs(threads) do breaks = breaks + (t:get("chain_breaks") or 0) end
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d errors=%d non2xx=%d chain_breaks=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests,
    e.connect + e.read + e.write + e.timeout + e.status, e.status, breaks))
end
LUA
}

# wrk with server CPU and RSS sampling (as bench.sh does), then a record.
# load SERVER SCENARIO CONC THREADS DURATION LUA URL PID [NOTE] [WRK_TIMEOUT]
load() {
    local server="$1" scen="$2" c="$3" threads="$4" dur="$5" lua="$6" url="$7" pid="$8" note="${9:-}"
    local timeout="${10:-2s}"
    local raw="$OUT/raw/$server-${scen//[^a-z0-9_]/_}-c$c.txt"
    [[ "$c" -lt "$threads" ]] && threads="$c"
    local t0 s0 peak=0 r
    # Not under the mixed scenario's background load, which is meant to keep them busy.
    [[ "$scen" == mixed* ]] || settle
    t0="$(cpu_ticks "$pid")"
    s0="$(date +%s.%N)"
    wrk -t"$threads" -c"$c" -d"$dur" --timeout "$timeout" --latency -s "$lua" "$url" >"$raw" 2>&1 &
    local wpid=$!
    while kill -0 "$wpid" 2>/dev/null; do
        r="$(rss_kib "$pid")"
        [[ "${r:-0}" -gt "$peak" ]] && peak="$r"
        sleep 0.5
    done
    wait "$wpid" || true
    local t1 s1 cpu result
    t1="$(cpu_ticks "$pid")"
    s1="$(date +%s.%N)"
    cpu="$(python3 -c "print(f'{($t1-$t0)/$CLK_TCK/($s1-$s0)*100:.0f}')")"
    result="$(grep -h '^RESULT' "$raw" || echo "RESULT")"
    record_result "$server" "$scen" "$c" "$result" "$cpu" "$((peak / 1024))" "$note"
}

basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }

# ---------------------------------------------------------------------------------------
# Scenarios

TOKEN_OK=0
TOKEN_SKIP=""
check_token_endpoint() {
    if [[ -n "$CC_SETUP_ERROR" ]]; then
        TOKEN_SKIP="$CC_SETUP_ERROR"
        return
    fi
    local status
    status="$(token_status "$OURS_BASE" bench-client "$CC_SECRET" -d grant_type=client_credentials -d scope=api:read)"
    if [[ "$status" == 200 ]]; then
        TOKEN_OK=1
    else
        TOKEN_SKIP="/token answered $status"
    fi
}

scenario_benchsh() { # SCENARIO (token_jwt, jwks, discovery)
    local scen="$1" c
    if [[ ( "$scen" == token_jwt || "$scen" == introspect ) && "$TOKEN_OK" != 1 ]]; then
        skip ours "$scen" "$TOKEN_SKIP"
        [[ "$PEER_OK" == 1 ]] && for c in $CONCURRENCY; do run_benchsh peer "$scen" "$c"; done
        return 0
    fi
    for c in $CONCURRENCY; do
        run_benchsh ours "$scen" "$c"
        [[ "$PEER_OK" == 1 ]] && run_benchsh peer "$scen" "$c"
    done
    return 0
}

password_ready() { # prints a reason and fails when the password grant cannot be measured
    if [[ "$TOKEN_OK" != 1 ]]; then printf '%s' "$TOKEN_SKIP"; return 1; fi
    if [[ -n "$PW_SETUP_ERROR" ]]; then printf '%s' "$PW_SETUP_ERROR"; return 1; fi
    local status
    status="$(token_status "$OURS_BASE" "$PW_CLIENT" "$PW_SECRET" -d grant_type=password \
        -d "username=$BENCH_USER" --data-urlencode "password=$BENCH_PASSWORD" -d scope=api:read)"
    [[ "$status" == 200 ]] || { printf 'the password grant answered %s' "$status"; return 1; }
}

password_lua() { # FILE
    local pw
    pw="$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$BENCH_PASSWORD")"
    write_static_lua "$1" POST "grant_type=password&username=$BENCH_USER&password=$pw&scope=api%3Aread" \
        "$(basic "$PW_CLIENT" "$PW_SECRET")"
}

# Single-hash times (ms) taken right before and right after a password cell, recorded
# for that cell: the target divides by the argon2 time, and on these VMs a lone hash
# takes 15 ms in one minute and 22 ms in the next, so the time measured at the start of
# the run does not describe the machine the cell ran on. Pooling samples from both sides
# of the cell does.
argon2_samples() {
    local out
    [[ -x "${ARGON2_BIN:-}" ]] || return 0
    settle
    out="$(env -i "PATH=$PATH" "$ARGON2_BIN" 0 2>/dev/null || true)"
    out="$(sed -n 's/^single hash samples ms: //p' <<<"$out")"
    [[ -n "$out" ]] && printf 'argon2\t%s\t%s\n' "$1" "$out" >>"$RECORDS"
    return 0
}

scenario_password() {
    local reason c
    if ! reason="$(password_ready)"; then
        skip ours password "$reason"
        return 0
    fi
    password_lua "$OUT/password.lua"
    for c in $CONCURRENCY; do
        argon2_samples "$c"
        load ours password "$c" "$WRK_THREADS" "$DURATION" "$OUT/password.lua" "$OURS_BASE/token" "$OURS_PID" \
            "" "$PASSWORD_TIMEOUT"
        argon2_samples "$c"
        sleep 1
    done
    skip peer password "oidc-provider has no password grant"
}

scenario_refresh() {
    local reason c tokens per
    if ! reason="$(password_ready)"; then
        skip ours refresh "$reason"
        [[ "$PEER_OK" == 1 ]] || return 0
    fi
    for c in $CONCURRENCY; do
        # Threads must divide the connections evenly (each thread gets its own chains).
        local threads="$WRK_THREADS"
        [[ "$c" -lt "$threads" ]] && threads="$c"
        (( c % threads == 0 )) || threads=1
        per=$((c / threads))
        if [[ -z "$reason" ]]; then
            tokens="$OUT/raw/ours-refresh-c$c.tokens"
            if BENCH_PASSWORD="$BENCH_PASSWORD" timeout 120 python3 "$BENCH_DIR/refresh_tokens.py" password \
                "$OURS_BASE" "$PW_CLIENT" "$PW_SECRET" "$BENCH_USER" "$c" >"$tokens" 2>"$tokens.err"; then
                # No scope parameter: the refreshed tokens keep api:read offline_access.
                write_refresh_lua "$OUT/ours-refresh-c$c.lua" "$(basic "$PW_CLIENT" "$PW_SECRET")" "" "$tokens" "$per"
                load ours refresh "$c" "$threads" "$DURATION" "$OUT/ours-refresh-c$c.lua" "$OURS_BASE/token" "$OURS_PID"
            else
                skip ours refresh "c=$c: could not obtain refresh tokens: $(tail -n 1 "$tokens.err")"
            fi
            sleep 1
        fi
        if [[ "$PEER_OK" == 1 ]]; then
            tokens="$OUT/raw/peer-refresh-c$c.tokens"
            if timeout 120 python3 "$BENCH_DIR/refresh_tokens.py" peer-authcode \
                "$PEER_BASE" bench-client bench-secret "$c" >"$tokens" 2>"$tokens.err"; then
                # scope=api:read (a narrowing the peer allows) so that it signs no ID token,
                # like ours; resource selects its RS256 JWT access tokens.
                write_refresh_lua "$OUT/peer-refresh-c$c.lua" "$(basic bench-client bench-secret)" \
                    "&scope=api%3Aread&resource=https%3A%2F%2Frs.jwt.example" "$tokens" "$per"
                load peer refresh "$c" "$threads" "$DURATION" "$OUT/peer-refresh-c$c.lua" "$PEER_BASE/token" "$PEER_PID" \
                    "no rotation"
            else
                skip peer refresh "c=$c: could not obtain refresh tokens: $(tail -n 1 "$tokens.err")"
            fi
            sleep 1
        fi
    done
}

scenario_mixed() {
    local reason pc
    if ! reason="$(password_ready)"; then
        skip ours mixed "$reason"
        return 0
    fi
    password_lua "$OUT/password.lua"
    write_static_lua "$OUT/mixed-token_jwt.lua" POST "grant_type=client_credentials&scope=api%3Aread" \
        "$(basic bench-client "$CC_SECRET")"
    write_static_lua "$OUT/mixed-jwks.lua" GET "" ""
    local bg_secs=$((2 * DUR_SECS + 4)) pc_conc="$MIXED_PASSWORD_CONCURRENCY"
    for pc in $MIXED_CONCURRENCY; do
        # Background: MIXED_PASSWORD_CONCURRENCY password requests for the whole round.
        local bg="$OUT/raw/ours-mixed-password-bg-probe$pc.txt"
        wrk -t1 -c"$pc_conc" -d"${bg_secs}s" --timeout "$PASSWORD_TIMEOUT" --latency -s "$OUT/password.lua" \
            "$OURS_BASE/token" >"$bg" 2>&1 &
        local bg_pid=$!
        sleep 2
        load ours "mixed token_jwt" "$pc" 1 "$DURATION" "$OUT/mixed-token_jwt.lua" "$OURS_BASE/token" "$OURS_PID" \
            "with $pc_conc password requests in flight"
        load ours "mixed jwks" "$pc" 1 "$DURATION" "$OUT/mixed-jwks.lua" "$OURS_BASE/jwks.json" "$OURS_PID" \
            "with $pc_conc password requests in flight"
        wait "$bg_pid" || true
        record_result ours "mixed password (background)" "$pc_conc" "$(grep -h '^RESULT' "$bg" || echo RESULT)" \
            "" "" "during the c=$pc probes (${bg_secs} s)"
        sleep 1
    done
}

# ---------------------------------------------------------------------------------------
# Run

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
# bench.sh comes with the peer; it is used for Portcullis too, even with PEER=0.
if [[ ! -x "$PEER_DIR/bench.sh" ]]; then
    [[ -d "$PEER_SRC" ]] || die "no $PEER_DIR/bench.sh and no $PEER_SRC to copy it from"
    mkdir -p "$PEER_DIR"
    cp -r "$PEER_SRC/." "$PEER_DIR/"
fi
start_ours
check_token_endpoint
PEER_OK=0
if [[ "$PEER" == 1 ]]; then
    if start_peer; then PEER_OK=1; else log "the peer did not start; measuring Portcullis only"; note "peer did not start (see peer.log)"; fi
fi
sleep 2
OURS_IDLE_KIB="$(rss_kib "$OURS_PID")"
PEER_IDLE_KIB=""
[[ "$PEER_OK" == 1 ]] && PEER_IDLE_KIB="$(rss_kib "$PEER_PID")"

# Reference for the password grant: cores / single argon2 hash time (the issue's
# target). The same tool's saturated-pool rate is recorded beside it, as a note: two
# hashes side by side on two cores are slower than one alone.
ARGON2_LINE=""
ARGON2_POOL_LINE=""
ARGON2_BIN=""
if [[ " $SCENARIOS " == *" password "* ]]; then
    argon2_bin="$REPO_DIR/target/release/examples/argon2_bench"
    # Rebuilt when missing or older than its source (it must print every sample).
    if [[ ! -x "$argon2_bin" || "$REPO_DIR/examples/argon2_bench.rs" -nt "$argon2_bin" ]]; then
        log "building examples/argon2_bench.rs for the password target (cargo build --release --locked --example argon2_bench)"
        (cd "$REPO_DIR" && cargo build --release --locked --example argon2_bench) >&2 || true
    fi
    if [[ -x "$argon2_bin" ]]; then
        ARGON2_BIN="$argon2_bin"
        settle
        argon2_out="$(env -i "PATH=$PATH" "$argon2_bin" 2 2>/dev/null || true)"
        ARGON2_LINE="$(grep '^single hash' <<<"$argon2_out" || true)"
        ARGON2_POOL_LINE="$(grep -i 'hashes/s' <<<"$argon2_out" | head -1 || true)"
    else
        note "argon2_bench could not be built: the password target is not checked"
    fi
fi

for scen in $SCENARIOS; do
    log "== $scen"
    case "$scen" in
        token_jwt | jwks | discovery | introspect) scenario_benchsh "$scen" ;;
        password) scenario_password ;;
        refresh) scenario_refresh ;;
        mixed) scenario_mixed ;;
        *) ;;
    esac
done

OURS_LOG_LINES="$(wc -l <"$SRV_DIR/ours.log" 2>/dev/null || echo 0)"
OURS_HWM_KIB="$(hwm_kib "$OURS_PID")"
OURS_AFTER_KIB="$(rss_kib "$OURS_PID")"
PEER_HWM_KIB=""
PEER_AFTER_KIB=""
[[ "$PEER_OK" == 1 ]] && { PEER_HWM_KIB="$(hwm_kib "$PEER_PID")"; PEER_AFTER_KIB="$(rss_kib "$PEER_PID")"; }

COMMIT="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo uncommitted)"
[[ -n "$(git -C "$REPO_DIR" status --porcelain --untracked-files=no 2>/dev/null)" ]] && COMMIT="$COMMIT (dirty)"
RATE_NOTE="default"
[[ " ${SRV_ENV[*]} " == *RATE_LIMIT__TOKEN_PER_SECOND=0* ]] && RATE_NOTE="off (rate_limit.token_per_second=0)"

PG_VERSION=""
if [[ "$BACKEND" == postgres ]]; then PG_VERSION="$(pg_server_version)"; fi
export BENCH_META_BACKEND="$BACKEND" BENCH_META_DURATION="$DURATION" BENCH_META_WRK_THREADS="$WRK_THREADS" \
    BENCH_META_COMMIT="$COMMIT" BENCH_META_LOAD="$LOAD_BEFORE" BENCH_META_RATE="$RATE_NOTE" \
    BENCH_META_LOG="${LOG_LEVEL:-server default}" BENCH_META_PG="$PG_VERSION" \
    BENCH_META_OURS_IDLE="$OURS_IDLE_KIB" BENCH_META_OURS_HWM="$OURS_HWM_KIB" BENCH_META_OURS_AFTER="$OURS_AFTER_KIB" \
    BENCH_META_PEER_IDLE="$PEER_IDLE_KIB" BENCH_META_PEER_HWM="$PEER_HWM_KIB" BENCH_META_PEER_AFTER="$PEER_AFTER_KIB" \
    BENCH_META_ARGON2="$ARGON2_LINE" BENCH_META_ARGON2_POOL="$ARGON2_POOL_LINE" BENCH_META_PEER_OK="$PEER_OK" BENCH_META_LOG_LINES="$OURS_LOG_LINES" \
    BENCH_META_PW_TIMEOUT="$PASSWORD_TIMEOUT"
python3 "$BENCH_DIR/report.py" "$RECORDS" | tee "$OUT/summary.md"
log "saved to $OUT/summary.md"
