#!/usr/bin/env python3
"""Service under attack: /token latency and the rightful user's login during a login flood.

    bench/attack.sh                                   # installs wrk, builds what is missing, runs this
    bench/attack.py --duration 20 --flood-rate 600    # the same, when wrk and the binary exist
    PORTCULLIS_BIN=/path/to/portcullis bench/attack.py

One fresh Portcullis on SQLite, configured as it would run behind a reverse proxy on this
host: `rate_limit.trusted_proxies = ["127.0.0.1"]`, every rate limit and login throttle at
its default. All traffic carries `X-Forwarded-For`, so the server sees the addresses the
script chooses:

  - the flood: wrong passwords for a few usernames (the rightful user's among them), each
    request from a random IPv4 address, through the login form (GET /authorize, GET /login,
    then POST /login again and again with the CSRF token of the form each answer shows) and
    through the password grant (POST /token grant_type=password), from --flood-threads
    threads paced to --flood-rate attempts per second in total;
  - the measuring client: wrk, POST /token client_credentials for --duration seconds, with
    --wrk-connections connections. It stands for many ordinary API clients: its requests
    come from a pool of 256 addresses in 198.18.0.0/22 (RFC 2544's benchmarking range), one
    after another, so no one address exceeds the per-address /token limit (200/s, burst
    400). Nothing is switched off: the limits apply to it as to everyone, it just never
    reaches them;
  - the rightful user: a browser that completed one login before the flood (and so holds
    the device cookie), from its own address; during the flood it signs in
    --rightful-logins times through the form (its session cookie dropped before each, the
    device cookie kept). A control attempt from a fresh browser (no device cookie) with the
    right password shows what the username's lock does to everyone else.

Phases: (a) baseline: wrk alone; (b) flood for --ramp seconds, then wrk again while the flood
goes on, and (c) the rightful logins spread over that window; then the flood stops. (d) The
rows of every table are counted (SQLite, read-only) before and after the flood, and VmHWM /
VmRSS of the server read from /proc after each phase.

Reported: token req/s, p50, p99, non-2xx with and without the flood and the p99 ratio
(goal: <= 2); the flood's attempts per second by path and answer against the argon2
capacity (from target/release/examples/argon2_bench when built); passwords actually
verified (login.failure audit events) and throttled; the rightful logins' successes and
times; rows added per table; RSS; CPU of the server, this script and the machine.

Standard library only (python3 >= 3.8); needs wrk. Everything on loopback; the whole run
takes about a minute plus start-up (< 3 min). Exit status 1 if the rightful user could not
log in or the measurement failed.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

# The helpers the flows benchmark already has (same directory; its main is guarded).
from flows import (
    b64url,
    free_port,
    hidden_fields,
    machine_busy_seconds,
    percentile,
    proc_cpu_seconds,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIRECT_URI = "https://app.example.com/callback"
WEB_CLIENT = "attack-web"
CC_CLIENT = "attack-cc"
PW_CLIENT = "attack-password"
RIGHTFUL = "alice"
# Usernames the flood guesses at: the rightful user's and two other existing accounts.
VICTIMS = [RIGHTFUL, "admin", "bob"]
RIGHTFUL_ADDRESS = "203.0.113.10"  # the rightful user's home address (TEST-NET-3)
TIMEOUT = 30


def log(msg):
    print(f"[attack] {msg}", file=sys.stderr, flush=True)


def random_address():
    """A random public-looking IPv4 address outside the ranges the other actors use."""
    while True:
        a = random.getrandbits(32)
        first = a >> 24
        if first in (0, 10, 127, 198, 203) or first >= 224:
            continue
        return ".".join(str((a >> s) & 255) for s in (24, 16, 8, 0))


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


class CpuWindow:
    """CPU % of the server, this process and the whole machine over a window."""

    def __init__(self, server_pid):
        self.pid = server_pid
        self.t = time.monotonic()
        self.server = proc_cpu_seconds(server_pid)
        self.me = time.process_time()
        self.machine = machine_busy_seconds()

    def end(self):
        wall = time.monotonic() - self.t
        return {
            "server": (proc_cpu_seconds(self.pid) - self.server) / wall * 100,
            "driver": (time.process_time() - self.me) / wall * 100,
            "machine": (machine_busy_seconds() - self.machine) / wall * 100,
        }


# ---------------------------------------------------------------- server


class Server:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="portcullis-attack.")
        self.proc = None

    def cli(self, argv, stdin=None):
        r = subprocess.run([self.args.bin, *argv], cwd=self.tmp, env=self.env, input=stdin,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise SystemExit(f"portcullis {' '.join(argv)} failed: {r.stderr.strip()[-500:]}")
        return r.stdout

    def start(self):
        self.port, self.admin = free_port(), free_port()
        while self.admin == self.port:
            self.admin = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.data = os.path.join(self.tmp, "data")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.tmp,
            "PORTCULLIS_ISSUER": self.issuer,
            "PORTCULLIS_DATA_DIR": self.data,
            "PORTCULLIS_HTTP__BIND": f"127.0.0.1:{self.port}",
            "PORTCULLIS_ADMIN__BIND": f"127.0.0.1:{self.admin}",
            # The proxy in front of it is this host: X-Forwarded-For is believed from
            # 127.0.0.1 only. No rate limit or login throttle setting is changed.
            "PORTCULLIS_RATE_LIMIT__TRUSTED_PROXIES": "[127.0.0.1]",
        }
        if self.args.log_level:
            self.env["PORTCULLIS_LOG__LEVEL"] = self.args.log_level
        self.cli(["migrate"])
        self.passwords = {}
        for name in VICTIMS:
            pw = secrets.token_urlsafe(18)
            self.cli(["user", "create", name, "--password-stdin"], stdin=pw + "\n")
            self.passwords[name] = pw
        out = self.cli(["--json", "client", "create", "--name", "Attack Web",
                        "--client-id", WEB_CLIENT, "--redirect-uri", REDIRECT_URI,
                        "--scope", "openid"])
        self.web_secret = json.loads(out)["client_secret"]
        out = self.cli(["--json", "client", "create", "--name", "Attack API",
                        "--client-id", CC_CLIENT, "--grant", "client_credentials",
                        "--scope", "api:read"])
        self.cc_secret = json.loads(out)["client_secret"]
        out = self.cli(["--json", "client", "create", "--name", "Attack Password",
                        "--client-id", PW_CLIENT, "--grant", "password",
                        "--scope", "api:read"])
        self.pw_secret = json.loads(out)["client_secret"]
        self.log_path = os.path.join(self.tmp, "server.log")
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen([self.args.bin, "serve"], cwd=self.tmp, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=self.logf,
                                     stdin=subprocess.DEVNULL)
        for _ in range(600):
            if self.proc.poll() is not None:
                raise SystemExit(f"portcullis exited at start; see {self.log_path}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=1)
                c.request("GET", "/health/ready")
                if c.getresponse().status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("portcullis not ready within 60 s")

    def db_path(self):
        for name in sorted(os.listdir(self.data)):
            if name.endswith((".db", ".sqlite", ".sqlite3")):
                return os.path.join(self.data, name)
        raise SystemExit(f"no SQLite database in {self.data}: {os.listdir(self.data)}")

    def rows(self):
        """Rows per table, and audit events per type (read-only, beside the server)."""
        conn = sqlite3.connect(f"file:{self.db_path()}?mode=ro", uri=True, timeout=10)
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__diesel%' ORDER BY name")]
            counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
            events = dict(conn.execute(
                "SELECT event_type, COUNT(*) FROM audit_events GROUP BY event_type").fetchall())
        finally:
            conn.close()
        return counts, events

    def db_bytes(self):
        return sum(os.path.getsize(os.path.join(self.data, n)) for n in os.listdir(self.data)
                   if ".db" in n or ".sqlite" in n)

    def metric(self, name):
        c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=5)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        return {m.group(1): int(float(m.group(2))) for m in re.finditer(
            rf'^{name}\{{[^}}]*endpoint="(\w+)"[^}}]*\}} (\S+)$', text, re.M)}

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.args.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- a browser


class Browser:
    """A keep-alive connection with a cookie jar, through the 'proxy' at 127.0.0.1."""

    def __init__(self, server, address=None):
        self.s = server
        self.address = address  # None: a random address per request
        self.conn = None
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        headers["X-Forwarded-For"] = self.address or random_address()
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            body = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=TIMEOUT)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, val = value.split(";", 1)[0].partition("=")
            attrs = value.lower()
            if "max-age=0" in attrs or "expires=thu, 01 jan 1970" in attrs:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = val.strip()
        if resp.headers.get("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return resp.status, resp.headers, data

    def open_login(self):
        """GET /authorize then GET /login: (status, form fields) of the login page."""
        verifier = b64url(secrets.token_bytes(32))
        q = urllib.parse.urlencode({
            "response_type": "code", "client_id": WEB_CLIENT, "redirect_uri": REDIRECT_URI,
            "scope": "openid", "state": b64url(secrets.token_bytes(12)),
            "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256"})
        status, headers, _ = self.request("GET", "/authorize?" + q)
        loc = headers.get("Location", "")
        if status != 303 or not loc.startswith("/login?"):
            return f"authorize {status}", None
        status, _, data = self.request("GET", loc)
        form = hidden_fields(data.decode(errors="replace")) if status == 200 else {}
        if "request_id" not in form or "csrf_token" not in form:
            return f"login page {status}", None
        return "ok", form

    def post_login(self, form, username, password):
        form = dict(form, username=username, password=password)
        return self.request("POST", "/login", form, {"Origin": self.s.issuer})


def rightful_login(server, browser):
    """One sign-in of the rightful user; (ok, outcome, login POST s, whole flow s)."""
    browser.cookies = {k: v for k, v in browser.cookies.items() if "device" in k}
    t0 = time.perf_counter()
    what, form = browser.open_login()
    if form is None:
        return False, what, float("nan"), time.perf_counter() - t0
    t1 = time.perf_counter()
    status, headers, data = browser.post_login(form, RIGHTFUL, server.passwords[RIGHTFUL])
    post_s = time.perf_counter() - t1
    loc = headers.get("Location", "")
    if status != 303:
        body = data.decode(errors="replace")
        why = "form shown again (rejected or throttled)" if status == 200 else f"login POST {status}"
        if status == 200 and "request_id" not in body:
            why = "login POST 200 without a form"
        return False, why, post_s, time.perf_counter() - t0
    if loc.startswith("/consent?"):
        status, _, data = browser.request("GET", loc)
        form = hidden_fields(data.decode(errors="replace"))
        form["decision"] = "allow"
        status, headers, _ = browser.request("POST", "/consent", form, {"Origin": server.issuer})
        loc = headers.get("Location", "")
    total = time.perf_counter() - t0
    if loc.startswith(REDIRECT_URI + "?") and "code=" in loc:
        return True, "code", post_s, total
    return False, f"ended at {status} {loc[:60]}", post_s, total


def rightful_logins(server, browser, args, out):
    """--rightful-logins sign-ins spread evenly over a --duration window, into out."""
    gap = args.duration / (args.rightful_logins + 1)
    for _ in range(args.rightful_logins):
        time.sleep(gap)
        try:
            out.append(rightful_login(server, browser))
        except (OSError, http.client.HTTPException) as e:
            out.append((False, f"connection: {e}", float("nan"), float("nan")))


# ---------------------------------------------------------------- the flood


class Flood:
    """Wrong passwords from random addresses through the form and the password grant."""

    def __init__(self, server, threads, rate, grant_share):
        self.s = server
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = {}  # (path, answer) -> n
        self.n_threads = threads
        self.per_thread_gap = threads / rate if rate > 0 else 0.0
        self.grant_threads = max(1, round(threads * grant_share)) if grant_share > 0 else 0
        basic = base64.b64encode(f"{PW_CLIENT}:{server.pw_secret}".encode()).decode()
        self.grant_headers = {"Authorization": f"Basic {basic}"}

    def count(self, path, answer):
        with self.lock:
            self.counts[(path, answer)] = self.counts.get((path, answer), 0) + 1

    def pace(self, next_at):
        """Open-loop pacing: the next attempt's time, sleeping until it is due."""
        if not self.per_thread_gap:
            return next_at
        now = time.monotonic()
        if next_at > now:
            time.sleep(next_at - now)
        # A thread that fell behind does not burst to catch up.
        return max(next_at, now - self.per_thread_gap) + self.per_thread_gap

    def form_thread(self):
        b = Browser(self.s)
        form = None
        next_at = time.monotonic()
        while not self.stop.is_set():
            try:
                if form is None:
                    b.cookies = {}
                    what, form = b.open_login()
                    if form is None:
                        self.count("/authorize+/login", what)
                        time.sleep(0.05)
                        continue
                next_at = self.pace(next_at)
                status, _, data = b.post_login(form, random.choice(VICTIMS),
                                               secrets.token_urlsafe(9))
                if status == 200:
                    form = hidden_fields(data.decode(errors="replace"))
                    if "csrf_token" in form and "request_id" in form:
                        self.count("POST /login", "200 form again")
                    else:
                        self.count("POST /login", "200 error page")
                        form = None
                else:
                    self.count("POST /login", str(status))
                    form = None
            except (OSError, http.client.HTTPException) as e:
                self.count("POST /login", f"connection: {type(e).__name__}")
                b.conn = None
                form = None

    def grant_thread(self):
        b = Browser(self.s)
        next_at = time.monotonic()
        while not self.stop.is_set():
            next_at = self.pace(next_at)
            try:
                status, _, data = b.request("POST", "/token", {
                    "grant_type": "password", "username": random.choice(VICTIMS),
                    "password": secrets.token_urlsafe(9), "scope": "api:read"},
                    self.grant_headers)
                answer = str(status)
                if status == 400:
                    try:
                        answer += " " + json.loads(data).get("error", "")
                    except ValueError:
                        pass
                self.count("POST /token password", answer)
            except (OSError, http.client.HTTPException) as e:
                self.count("POST /token password", f"connection: {type(e).__name__}")
                b.conn = None

    def start(self):
        self.t0 = time.monotonic()
        self.threads = [threading.Thread(
            target=self.grant_thread if i < self.grant_threads else self.form_thread, daemon=True)
            for i in range(self.n_threads)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=TIMEOUT + 5)
        self.seconds = time.monotonic() - self.t0


# ---------------------------------------------------------------- wrk


WRK_LUA = r"""
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api%3Aread"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic BASIC"
-- 256 addresses of 198.18.0.0/22, in turn: ordinary API clients, each far below the
-- per-address /token limit.
local n = 0
request = function()
  n = n + 1
  wrk.headers["X-Forwarded-For"] = string.format("198.18.%d.%d", math.floor(n / 64) % 4, n % 64)
  return wrk.format()
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests,
    e.connect + e.read + e.write + e.timeout + e.status, e.status))
end
"""


def run_wrk(server, args, lua_path, label):
    cmd = ["wrk", f"-t{args.wrk_threads}", f"-c{args.wrk_connections}",
           f"-d{args.duration}s", "--latency", "-s", lua_path, f"{server.issuer}/token"]
    log(f"{label}: {' '.join(cmd)}")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    line = next((l for l in r.stdout.splitlines() if l.startswith("RESULT")), None)
    if not line:
        raise SystemExit(f"wrk gave no RESULT line: {r.stdout[-500:]} {r.stderr[-500:]}")
    out = {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    out["raw"] = r.stdout
    return out


# ---------------------------------------------------------------- argon2 reference


def argon2_capacity():
    """(workers, single-hash ms, saturated hashes/s) from argon2_bench, or None."""
    exe = os.path.join(REPO, "target", "release", "examples", "argon2_bench")
    if not os.access(exe, os.X_OK):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([exe, "2"], cwd=tmp, capture_output=True, text=True, timeout=120,
                           env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp})
    workers = re.search(r"pool: (\d+) workers", r.stdout)
    single = re.search(r"single hash: median ([\d.]+) ms", r.stdout)
    sat = re.search(r"saturated: ([\d.]+) hashes/s", r.stdout)
    if not (workers and single and sat):
        log(f"argon2_bench output not understood: {r.stdout.strip()[:300]}")
        return None
    return int(workers.group(1)), float(single.group(1)), float(sat.group(1))


# ---------------------------------------------------------------- main


def mib(kib):
    return f"{kib / 1024:.1f}" if kib else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.environ.get(
        "PORTCULLIS_BIN", os.path.join(REPO, "target", "release", "portcullis")))
    ap.add_argument("--duration", type=int, default=20, help="seconds of each wrk measurement")
    ap.add_argument("--ramp", type=float, default=3.0,
                    help="seconds the flood runs before the measurement starts")
    ap.add_argument("--wrk-connections", type=int, default=8)
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--flood-threads", type=int, default=16)
    ap.add_argument("--flood-rate", type=float, default=600.0,
                    help="flood attempts per second in total (0: as fast as the threads go)")
    ap.add_argument("--grant-share", type=float, default=0.25,
                    help="share of the flood threads that use the password grant (0: form only)")
    ap.add_argument("--rightful-logins", type=int, default=5)
    ap.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", ""),
                    help="server log level (default: the server's, info)")
    ap.add_argument("--out", help="also write the report to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    if not os.access(args.bin, os.X_OK):
        raise SystemExit(f"{args.bin} not found: cargo build --release")
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found (bench/attack.sh installs it: apt-get install -y wrk)")
    started = time.monotonic()
    commit = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "?"
    load_before = os.getloadavg()[0]
    ref = argon2_capacity()

    server = Server(args)
    try:
        log(f"starting a fresh server in {server.tmp}")
        server.start()
        pid = server.proc.pid
        lua = os.path.join(server.tmp, "token.lua")
        basic = base64.b64encode(f"{CC_CLIENT}:{server.cc_secret}".encode()).decode()
        with open(lua, "w") as f:
            f.write(WRK_LUA.replace("BASIC", basic))

        # The rightful user's browser completes one login before anything else happens:
        # that gives it the device cookie.
        alice = Browser(server, RIGHTFUL_ADDRESS)
        ok, outcome, _, _ = rightful_login(server, alice)
        if not ok or not any("device" in k for k in alice.cookies):
            raise SystemExit(f"the rightful user's first login failed: {outcome}, "
                             f"cookies {sorted(alice.cookies)}")

        # (a) baseline; the rightful user signs in as often as during the flood, for the
        # time a login takes on this machine with wrk running.
        quiet_logins = []
        rt = threading.Thread(target=rightful_logins, daemon=True,
                              args=(server, alice, args, quiet_logins))
        cpu = CpuWindow(pid)
        rt.start()
        base = run_wrk(server, args, lua, "baseline")
        base["cpu"] = cpu.end()
        rt.join(timeout=TIMEOUT * 2)
        base_mem = proc_status(pid)
        rows_before, events_before = server.rows()
        bytes_before = server.db_bytes()
        limited_before = server.metric("portcullis_rate_limited_total")

        # (b) + (c) the flood, the measurement and the rightful logins
        flood = Flood(server, args.flood_threads, args.flood_rate, args.grant_share)
        log(f"flood: {args.flood_threads} threads, {args.flood_rate:g} attempts/s target")
        flood.start()
        time.sleep(args.ramp)
        logins = []
        rt = threading.Thread(target=rightful_logins, daemon=True,
                              args=(server, alice, args, logins))
        cpu = CpuWindow(pid)
        rt.start()
        under = run_wrk(server, args, lua, "under flood")
        under["cpu"] = cpu.end()
        rt.join(timeout=TIMEOUT * 2)
        # Control: a fresh browser (no device cookie) with the right password, from another
        # address, while the username is under attack.
        control = rightful_login(server, Browser(server, "203.0.113.99"))
        flood.finish()
        flood_mem = proc_status(pid)
        rows_after, events_after = server.rows()
        bytes_after = server.db_bytes()
        limited_after = server.metric("portcullis_rate_limited_total")
    finally:
        server.stop()
    elapsed = time.monotonic() - started

    # ------------------------------------------------------------ report
    lines = []
    p = lines.append
    ratio = under["p99_ms"] / base["p99_ms"] if base["p99_ms"] else float("nan")
    attempts = sum(flood.counts.values())
    posts = sum(n for (path, _), n in flood.counts.items() if path.startswith("POST"))
    rate = posts / flood.seconds
    verified = events_after.get("login.failure", 0) - events_before.get("login.failure", 0)
    p(f"# attack: commit {commit}, {os.cpu_count()} cores, load {load_before:.2f} before, "
      f"SQLite, trusted_proxies=[127.0.0.1], rate limits and login throttling at their defaults, "
      f"server log level {args.log_level or 'default (info)'}, whole run {elapsed:.0f} s")
    if ref:
        p(f"# argon2 capacity (argon2_bench): {ref[0]} workers, single hash {ref[1]:.1f} ms "
          f"-> {ref[0] / ref[1] * 1000:.0f}/s; saturated pool {ref[2]:.0f} hashes/s")
    else:
        p("# argon2 capacity: unknown (cargo build --release --example argon2_bench)")
    p("")
    p("| client_credentials /token, wrk "
      f"c={args.wrk_connections}, {args.duration} s | req/s | p50 ms | p99 ms | max ms | non-2xx | errors "
      "| server CPU % | driver CPU % | machine CPU % |")
    p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in (("without flood", base), ("with flood", under)):
        c = r["cpu"]
        p(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} | "
          f"{r['non2xx']:.0f} | {r['errors']:.0f} | {c['server']:.0f} | {c['driver']:.0f} | {c['machine']:.0f} |")
    verdict = "PASS" if ratio <= 2 else "FAIL"
    p(f"\np99 with flood / without: {ratio:.2f} (goal <= 2: {verdict}); "
      f"throughput with / without: {under['rps'] / base['rps']:.2f}")
    p("")
    p(f"Flood: {posts} wrong-password attempts in {flood.seconds:.1f} s = {rate:.0f}/s"
      + (f" ({rate / (ref[0] / ref[1] * 1000):.1f}x the argon2 capacity of {ref[0] / ref[1] * 1000:.0f}/s)"
         if ref else "")
      + f", usernames {', '.join(VICTIMS)}, a random source address per request; "
      f"passwords actually verified (login.failure events): {verified} "
      f"({verified / flood.seconds:.1f}/s)")
    p("")
    p("| flood request | answer | count |")
    p("| --- | --- | --- |")
    for (path, answer), n in sorted(flood.counts.items()):
        p(f"| {path} | {answer} | {n} |")
    p("")
    ok_logins = [x for x in logins if x[0]]
    p("Rightful user (device cookie, own address), signing in through the form while wrk runs:")
    p("")
    p("| rightful logins | succeeded | login POST median ms | max ms | sign-in (authorize to code) median ms | max ms | each: POST / sign-in ms |")
    p("| --- | --- | --- | --- | --- | --- | --- |")
    for name, ls in (("without flood", quiet_logins), ("with flood", logins)):
        if not ls:
            continue
        posts_s = [x[2] for x in ls]
        totals = [x[3] for x in ls]
        each = ", ".join(f"{x[2] * 1000:.0f} / {x[3] * 1000:.0f}" + ("" if x[0] else f" FAILED: {x[1]}")
                         for x in ls)
        p(f"| {name} | {sum(1 for x in ls if x[0])}/{len(ls)} | {percentile(posts_s, 50) * 1000:.0f} | "
          f"{max(posts_s) * 1000:.0f} | {percentile(totals, 50) * 1000:.0f} | {max(totals) * 1000:.0f} | {each} |")
    p("")
    p(f"Control, same user and right password from a fresh browser (no device cookie): "
      f"{'logged in' if control[0] else 'refused'} ({control[1]}), POST {control[2] * 1000:.0f} ms")
    p("")
    p(f"Rows added during the flood (the {len(logins)} rightful logins and the control included; "
      f"database and WAL files {bytes_before / 1048576:.1f} -> {bytes_after / 1048576:.1f} MiB):")
    p("")
    p("| table | before | after | added |")
    p("| --- | --- | --- | --- |")
    for t in sorted(rows_after):
        b, a = rows_before.get(t, 0), rows_after[t]
        if a or b:
            p(f"| {t} | {b} | {a} | {a - b:+d} |")
    p("")
    p("| audit event | added |")
    p("| --- | --- |")
    for e in sorted(events_after):
        d = events_after[e] - events_before.get(e, 0)
        if d:
            p(f"| {e} | {d} |")
    p("")
    lim = {k: limited_after.get(k, 0) - limited_before.get(k, 0) for k in limited_after}
    lim = {k: v for k, v in lim.items() if v}
    p("429s during the flood (portcullis_rate_limited_total): "
      + (", ".join(f"{k} {v}" for k, v in sorted(lim.items())) or "none"))
    p("")
    p("| server memory | VmRSS MiB | VmHWM (peak so far) MiB |")
    p("| --- | --- | --- |")
    p(f"| after the baseline (no flood yet) | {mib(base_mem.get('VmRSS'))} | {mib(base_mem.get('VmHWM'))} |")
    p(f"| after the flood | {mib(flood_mem.get('VmRSS'))} | {mib(flood_mem.get('VmHWM'))} |")
    report = "\n".join(lines)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report + "\n")
    if len(ok_logins) < len(logins) or not logins or not all(x[0] for x in quiet_logins):
        sys.exit(1)


if __name__ == "__main__":
    main()
