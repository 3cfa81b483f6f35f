#!/usr/bin/env python3
"""Complete authorization code flows per second against a fresh Portcullis.

    bench/flows.py                                   # 1 and 4 workers, 10 s each, SQLite and Postgres
    bench/flows.py --workers 1 2 4 --duration 20 --backends sqlite
    PORTCULLIS_BIN=/path/to/portcullis bench/flows.py

One flow is what a browser and a confidential relying party do together, each step checked:

    GET  /authorize (PKCE S256, state, nonce, prompt=consent)  -> 303 /login?request_id=..
    GET  /login                                               -> 200 form (request_id, csrf_token)
    POST /login (Origin: issuer)                              -> 303 /consent?request_id=..  + session cookie
    GET  /consent                                             -> 200 form
    POST /consent decision=allow                              -> 303 redirect_uri?code&state&iss
    POST /token authorization_code + code_verifier, Basic     -> 200 access_token, id_token
    GET  /userinfo, Bearer                                    -> 200, same sub as the ID token

Every flow starts with an empty cookie jar (a new visitor: no session, so the login and its
one argon2id hash always happen) and asks for `prompt=consent` (the server remembers
consent per user, client and scopes; without it only a user's first flow would show the
consent page). Each worker is a thread with its own keep-alive connection and its own user,
so the per-username throttle never sees two workers' attempts.

Per backend the script: creates a temporary directory, and for Postgres a fresh database
(psql ... -c 'CREATE DATABASE ..', dropped afterwards, also on failure); runs
`portcullis migrate`, creates the users and a confidential client with the CLI; starts
`portcullis serve` from an empty environment plus PORTCULLIS_* variables, with
PORTCULLIS_RATE_LIMIT__TOKEN_PER_SECOND=0 (all load comes from 127.0.0.1; the default
per-IP limit of 200 /token requests/s is not what is measured here); then runs each
worker count for --duration seconds after one untimed warm-up flow per worker.

Reported per cell: flows/s, p50/p99 of a whole flow, p50/p99 of each step, errors by kind,
the CPU of the server process, of this client and of the whole machine (all processes,
Postgres included; 200% = both cores of a 2-core machine), and the load average. Beside
it, the argon2 limit: the server's password pool (one worker per core) can do at most
`workers / single-hash time` logins per second, and argon2_bench's saturated pool
throughput (usually higher: back-to-back hashes reuse memory, see bench/README.md), both
from `target/release/examples/argon2_bench` when it has been built
(`cargo build --release --example argon2_bench`), or `workers / --argon2-ms`.
Exit status 1 if any flow failed.

Standard library only (python3 >= 3.8). Needs psql for Postgres.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIRECT_URI = "https://app.example.com/callback"
CLIENT_ID = "bench-flows"
SCOPE = "openid profile email"
STEPS = ["authorize", "login_get", "login_post", "consent_get", "consent_post", "token", "userinfo"]
TIMEOUT = 30


def log(msg):
    print(f"[flows] {msg}", file=sys.stderr, flush=True)


class FlowError(Exception):
    def __init__(self, kind, detail=""):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


# ---------------------------------------------------------------- one flow


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_payload(token):
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError) as err:
        raise FlowError("bad_id_token", str(err)) from err


HIDDEN_RE = re.compile(r"<input[^>]*>", re.I)
ATTR_RE = re.compile(r'(\w[\w-]*)="([^"]*)"')


def hidden_fields(html):
    fields = {}
    for tag in HIDDEN_RE.findall(html):
        attrs = dict(ATTR_RE.findall(tag))
        if attrs.get("type") == "hidden" and "name" in attrs:
            fields[attrs["name"]] = html_unescape(attrs.get("value", ""))
    return fields


def html_unescape(s):
    import html

    return html.unescape(s)


class Client:
    """One worker: a keep-alive connection, a cookie jar emptied at each flow."""

    def __init__(self, host, port, issuer, client_secret, username, password):
        self.host, self.port = host, port
        self.issuer = issuer
        self.origin = issuer.rstrip("/")
        self.basic = "Basic " + base64.b64encode(
            f"{urllib.parse.quote(CLIENT_ID, safe='')}:{urllib.parse.quote(client_secret, safe='')}".encode()
        ).decode()
        self.username, self.password = username, password
        self.conn = None
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            body = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                # A keep-alive connection the server closed: reconnect once.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise FlowError("connection", f"{method} {path.split('?')[0]}: {err}") from err
            except (OSError, http.client.HTTPException) as err:
                self.conn.close()
                self.conn = None
                raise FlowError("connection", f"{method} {path.split('?')[0]}: {err}") from err
        for value in resp.headers.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0]
            name, _, val = pair.partition("=")
            attrs = value.lower()
            if "max-age=0" in attrs or "expires=thu, 01 jan 1970" in attrs:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = val.strip()
        if resp.headers.get("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return resp.status, resp.headers, data

    def expect(self, step, status, want, headers, data):
        if status != want:
            if status == 429:
                kind = f"{step}_429"
            elif status == 503:
                kind = f"{step}_503"
            else:
                kind = f"{step}_http_{status}"
            raise FlowError(kind, data[:200].decode(errors="replace"))

    def location(self, step, headers):
        loc = headers.get("Location")
        if not loc:
            raise FlowError(f"{step}_no_location")
        return loc

    def flow(self, timings):
        """One complete flow; appends (step, seconds) to timings. Raises FlowError."""
        self.cookies = {}
        verifier = b64url(secrets.token_bytes(32))
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        state = b64url(secrets.token_bytes(16))
        nonce = b64url(secrets.token_bytes(16))

        def timed(step, method, path, body=None, headers=None):
            t = time.perf_counter()
            out = self.request(method, path, body, headers)
            timings.append((step, time.perf_counter() - t))
            return out

        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "scope": SCOPE,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "prompt": "consent",
            },
            quote_via=urllib.parse.quote,
        )
        status, headers, data = timed("authorize", "GET", "/authorize?" + query)
        self.expect("authorize", status, 303, headers, data)
        login_url = self.location("authorize", headers)
        if not login_url.startswith("/login?"):
            raise FlowError("authorize_unexpected_location", login_url[:100])

        status, headers, data = timed("login_get", "GET", login_url)
        self.expect("login_get", status, 200, headers, data)
        form = hidden_fields(data.decode())
        if "request_id" not in form or "csrf_token" not in form:
            raise FlowError("login_form_fields")
        form.update(username=self.username, password=self.password)
        status, headers, data = timed(
            "login_post", "POST", "/login", form, {"Origin": self.origin}
        )
        if status == 200:
            raise FlowError("login_rejected", "the form came back (wrong password or throttled)")
        self.expect("login_post", status, 303, headers, data)
        consent_url = self.location("login_post", headers)
        if not consent_url.startswith("/consent?"):
            raise FlowError("login_unexpected_location", consent_url[:100])

        status, headers, data = timed("consent_get", "GET", consent_url)
        self.expect("consent_get", status, 200, headers, data)
        form = hidden_fields(data.decode())
        if "request_id" not in form or "csrf_token" not in form:
            raise FlowError("consent_form_fields")
        form["decision"] = "allow"
        status, headers, data = timed(
            "consent_post", "POST", "/consent", form, {"Origin": self.origin}
        )
        self.expect("consent_post", status, 303, headers, data)
        back = self.location("consent_post", headers)
        if not back.startswith(REDIRECT_URI + "?"):
            raise FlowError("consent_unexpected_location", back[:100])
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
        if "error" in params:
            raise FlowError("authorization_error", params["error"][0])
        if params.get("state") != [state]:
            raise FlowError("state_mismatch")
        if params.get("iss") != [self.issuer]:
            raise FlowError("iss_mismatch", str(params.get("iss")))
        code = params.get("code", [""])[0]
        if not code:
            raise FlowError("no_code")

        status, headers, data = timed(
            "token",
            "POST",
            "/token",
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            {"Authorization": self.basic},
        )
        self.expect("token", status, 200, headers, data)
        tokens = json.loads(data)
        access, id_token = tokens.get("access_token"), tokens.get("id_token")
        if not access or not id_token:
            raise FlowError("token_missing_fields", ",".join(sorted(tokens)))
        claims = jwt_payload(id_token)
        if claims.get("nonce") != nonce:
            raise FlowError("nonce_mismatch")
        aud = claims.get("aud")
        if aud != CLIENT_ID and not (isinstance(aud, list) and CLIENT_ID in aud):
            raise FlowError("aud_mismatch", str(aud))

        status, headers, data = timed(
            "userinfo", "GET", "/userinfo", None, {"Authorization": "Bearer " + access}
        )
        self.expect("userinfo", status, 200, headers, data)
        info = json.loads(data)
        if info.get("sub") != claims.get("sub"):
            raise FlowError("userinfo_sub_mismatch")


# ---------------------------------------------------------------- load


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


def proc_cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def machine_busy_seconds():
    """CPU seconds all cores spent not idle (from /proc/stat), for the machine CPU column."""
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        return (sum(vals[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def run_cell(server, users, workers, duration):
    clients = [
        Client("127.0.0.1", server["port"], server["issuer"], server["secret"], u, p)
        for u, p in users[:workers]
    ]
    # Warm-up: one untimed flow per worker (opens connections, warms caches).
    for c in clients:
        try:
            c.flow([])
        except FlowError as err:
            raise SystemExit(f"warm-up flow failed: {err}")

    results = [None] * workers
    barrier = threading.Barrier(workers + 1)
    deadline_box = {}

    def work(i):
        c = clients[i]
        flows, timings, errors = [], [], {}
        barrier.wait()
        deadline = deadline_box["deadline"]
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            steps = []
            try:
                c.flow(steps)
                flows.append(time.perf_counter() - t)
                timings.extend(steps)
            except FlowError as err:
                errors[err.kind] = errors.get(err.kind, 0) + 1
                time.sleep(0.01)
            except Exception as err:  # noqa: BLE001 - count, never hide
                kind = f"client_{type(err).__name__}"
                errors[kind] = errors.get(kind, 0) + 1
                time.sleep(0.01)
        results[i] = (flows, timings, errors)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)]
    for t in threads:
        t.start()
    srv_cpu0 = proc_cpu_seconds(server["pid"])
    busy0 = machine_busy_seconds()
    cli0 = os.times()
    load0 = os.getloadavg()[0]
    start = time.perf_counter()
    deadline_box["deadline"] = start + duration
    barrier.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    cli1 = os.times()
    srv_cpu1 = proc_cpu_seconds(server["pid"])
    busy1 = machine_busy_seconds()

    flows, timings, errors = [], [], {}
    for f, tm, e in results:
        flows += f
        timings += tm
        for k, v in e.items():
            errors[k] = errors.get(k, 0) + v
    per_step = {s: [d for name, d in timings if name == s] for s in STEPS}
    return {
        "workers": workers,
        "elapsed": elapsed,
        "flows": len(flows),
        "rate": len(flows) / elapsed,
        "p50": percentile(flows, 50),
        "p99": percentile(flows, 99),
        "steps": {s: (percentile(v, 50), percentile(v, 99)) for s, v in per_step.items()},
        "errors": errors,
        "server_cpu": (srv_cpu1 - srv_cpu0) / elapsed * 100,
        "machine_cpu": (busy1 - busy0) / elapsed * 100,
        "client_cpu": ((cli1.user - cli0.user) + (cli1.system - cli0.system)) / elapsed * 100,
        "load": load0,
    }


# ---------------------------------------------------------------- server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(args, sql):
    cmd = [
        "psql", "-h", args.pg_host, "-p", str(args.pg_port), "-U", args.pg_user,
        "-d", args.pg_admin_db, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql,
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)


class Server:
    def __init__(self, args, backend, n_users):
        self.args, self.backend = args, backend
        self.tmp = tempfile.mkdtemp(prefix=f"portcullis-flows-{backend}.")
        self.proc = None
        self.db = None
        self.n_users = n_users

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    def cli(self, argv, stdin=None):
        r = subprocess.run(
            [self.args.bin, *argv], cwd=self.tmp, env=self.env, input=stdin,
            capture_output=True, text=True, timeout=300,
        )
        if r.returncode != 0:
            raise SystemExit(f"portcullis {' '.join(argv)} failed: {r.stderr.strip()[-500:]}")
        return r.stdout

    def start(self):
        port, admin = free_port(), free_port()
        while admin == port:
            admin = free_port()
        issuer = f"http://127.0.0.1:{port}"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.tmp,
            "PORTCULLIS_ISSUER": issuer,
            "PORTCULLIS_DATA_DIR": os.path.join(self.tmp, "data"),
            "PORTCULLIS_HTTP__BIND": f"127.0.0.1:{port}",
            "PORTCULLIS_ADMIN__BIND": f"127.0.0.1:{admin}",
            "PORTCULLIS_RATE_LIMIT__TOKEN_PER_SECOND": "0",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__AUTHORIZE__PER_SECOND": "0",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__LOGIN__PER_SECOND": "0",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__CONSENT__PER_SECOND": "0",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__SELECT_ACCOUNT__PER_SECOND": "0",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__LOGOUT__PER_SECOND": "0",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__USERINFO__PER_SECOND": "0",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__INTROSPECT__PER_SECOND": "0",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__REVOKE__PER_SECOND": "0",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__OTHER__PER_SECOND": "0",
            # Every flow comes from 127.0.0.1, and the bench leaves requests pending: the
            # per-address bound on pending authorization requests (50) would refuse them.
            "PORTCULLIS_AUTHORIZE__MAX_PENDING_PER_ADDRESS": "1000000",
            "PORTCULLIS_AUTHORIZE__MAX_PENDING_TOTAL": "1000000",
        }
        if self.args.log_level:
            self.env["PORTCULLIS_LOG__LEVEL"] = self.args.log_level
        if self.backend == "postgres":
            self.db = f"portcullis_flows_{os.getpid()}"
            psql(self.args, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            psql(self.args, f'CREATE DATABASE "{self.db}"')
            self.env["PORTCULLIS_DATABASE__URL"] = (
                f"postgres://{self.args.pg_user}@{self.args.pg_host}:{self.args.pg_port}/{self.db}"
            )
        self.cli(["migrate"])
        self.users = []
        for i in range(self.n_users):
            name, password = f"flow-user-{i}", secrets.token_urlsafe(18)
            self.cli(
                ["user", "create", name, "--email", f"{name}@example.com",
                 "--name", f"Flow User {i}", "--password-stdin"],
                stdin=password + "\n",
            )
            self.users.append((name, password))
        out = self.cli(
            ["--json", "client", "create", "--name", "Flows Bench", "--client-id", CLIENT_ID,
             "--redirect-uri", REDIRECT_URI, "--scope", "openid", "--scope", "profile",
             "--scope", "email"]
        )
        secret = json.loads(out)["client_secret"]
        self.logf = open(os.path.join(self.tmp, "server.log"), "wb")
        self.proc = subprocess.Popen(
            [self.args.bin, "serve"], cwd=self.tmp, env=self.env,
            stdout=subprocess.DEVNULL, stderr=self.logf, stdin=subprocess.DEVNULL,
        )
        for _ in range(600):
            if self.proc.poll() is not None:
                raise SystemExit(f"portcullis exited at start; see {self.tmp}/server.log")
            try:
                c = http.client.HTTPConnection("127.0.0.1", admin, timeout=1)
                c.request("GET", "/health/ready")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("portcullis not ready within 60 s")
        return {"port": port, "issuer": issuer, "secret": secret, "pid": self.proc.pid,
                "users": self.users}

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.db:
            try:
                psql(self.args, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            except (subprocess.SubprocessError, OSError) as err:
                log(f"could not drop database {self.db}: {err}")
        if self.args.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- argon2 reference


def argon2_reference(args):
    """(workers, single-hash ms, saturated hashes/s or None, source line)."""
    if args.argon2_ms:
        return args.argon2_workers or os.cpu_count(), args.argon2_ms, None, "--argon2-ms"
    exe = os.path.join(REPO, "target", "release", "examples", "argon2_bench")
    if not os.access(exe, os.X_OK):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(
            [exe, str(args.argon2_secs)], cwd=tmp, capture_output=True, text=True, timeout=120,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp},
        )
    out = r.stdout
    workers = re.search(r"pool: (\d+) workers", out)
    single = re.search(r"single hash: median ([\d.]+) ms", out)
    sat = re.search(r"saturated: ([\d.]+) hashes/s", out)
    if not (workers and single):
        log(f"argon2_bench output not understood: {out.strip()[:300]} {r.stderr.strip()[:300]}")
        return None
    return (int(workers.group(1)), float(single.group(1)),
            float(sat.group(1)) if sat else None, " | ".join(out.strip().splitlines()))


# ---------------------------------------------------------------- main


def ms(x):
    return f"{x * 1000:.0f}" if x == x else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per cell")
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgres"],
                    choices=["sqlite", "postgres"])
    ap.add_argument("--bin", default=os.environ.get(
        "PORTCULLIS_BIN", os.path.join(REPO, "target", "release", "portcullis")))
    ap.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", ""),
                    help="server log level (default: the server's, info)")
    ap.add_argument("--pg-host", default=os.environ.get("BENCH_PG_HOST", "127.0.0.1"))
    ap.add_argument("--pg-port", type=int, default=int(os.environ.get("BENCH_PG_PORT", "5432")))
    ap.add_argument("--pg-user", default=os.environ.get("BENCH_PG_USER", "postgres"))
    ap.add_argument("--pg-admin-db", default=os.environ.get("BENCH_PG_ADMIN_DB", "test"))
    ap.add_argument("--argon2-secs", type=int, default=3,
                    help="saturated phase of argon2_bench (0 skips the run)")
    ap.add_argument("--argon2-ms", type=float, help="single-hash time instead of running argon2_bench")
    ap.add_argument("--argon2-workers", type=int, help="password workers for --argon2-ms")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()

    if not os.access(args.bin, os.X_OK):
        raise SystemExit(f"{args.bin} not found: cargo build --release")
    commit = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "?"
    print(f"# flows: commit {commit}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} "
          f"before, {args.duration:g} s per cell, rate_limit.token_per_second=0, "
          f"server log level {args.log_level or 'default'}")

    ref = argon2_reference(args) if args.argon2_secs or args.argon2_ms else None
    ceiling = None
    if ref:
        workers, single_ms, saturated, line = ref
        ceiling = workers / (single_ms / 1000)
        print(f"# argon2: {line}")
        print(f"# argon2 limit: {workers} password workers / {single_ms:.1f} ms = {ceiling:.1f} "
              f"logins/s" + (f" (saturated pool measured {saturated:.1f} hashes/s)" if saturated else ""))
    else:
        print("# argon2 limit: unknown (cargo build --release --example argon2_bench, or --argon2-ms)")

    saturated = ref[2] if ref else None
    rows = []
    for backend in args.backends:
        log(f"{backend}: preparing a fresh server with {max(args.workers)} users")
        with Server(args, backend, max(args.workers)) as srv:
            for w in args.workers:
                log(f"{backend}: {w} worker(s) for {args.duration:g} s")
                cell = run_cell(srv, srv["users"], w, args.duration)
                cell["backend"] = backend
                rows.append(cell)

    print()
    print("| backend | workers | flows | flows/s | % of argon2 limit | % of saturated pool "
          "| flow p50 ms | flow p99 ms | errors | server CPU % | client CPU % | machine CPU % | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        pct = f"{r['rate'] / ceiling * 100:.0f}%" if ceiling else "-"
        pct_sat = f"{r['rate'] / saturated * 100:.0f}%" if saturated else "-"
        errs = sum(r["errors"].values())
        err_s = str(errs) + (
            " (" + ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items())) + ")" if errs else ""
        )
        print(f"| {r['backend']} | {r['workers']} | {r['flows']} | {r['rate']:.1f} | {pct} | "
              f"{pct_sat} | {ms(r['p50'])} | {ms(r['p99'])} | {err_s} | {r['server_cpu']:.0f} | "
              f"{r['client_cpu']:.0f} | {r['machine_cpu']:.0f} | {r['load']:.2f} |")
    print()
    print("Per step, p50 / p99 ms:")
    print()
    print("| backend | workers | " + " | ".join(STEPS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in STEPS) + " |")
    for r in rows:
        cells = " | ".join(f"{ms(r['steps'][s][0])} / {ms(r['steps'][s][1])}" for s in STEPS)
        print(f"| {r['backend']} | {r['workers']} | {cells} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"commit": commit, "argon2": ref, "rows": rows}, f, indent=2)
    if any(r["errors"] for r in rows) or not all(r["flows"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
