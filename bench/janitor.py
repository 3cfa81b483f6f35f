#!/usr/bin/env python3
"""Storage stays bounded under constant load: the janitor's tables, sampled over time.

    bench/janitor.py                                  # 15 min, SQLite
    bench/janitor.py --backend postgres --duration 900 --sample 30
    PORTCULLIS_BIN=/path/to/portcullis bench/janitor.py

Starts a fresh Portcullis with short lifetimes so that rows expire within the run
(access tokens 60 s, refresh tokens 60 s idle / 120 s absolute, login throttling windows
60 s, janitor every 10 s), then keeps a constant mixed load on it:

  - logins: the password grant with `offline_access` (a grant and a refresh token each),
    one refresh (rotation: another refresh token), and a revocation of the access token
    (a deny-list row);
  - failed logins, each for a new unknown username (a throttling row each, plus the IP's);
  - `GET /authorize` with valid parameters, never completed (a pending request each;
    those live 10 minutes, fixed, so their plateau starts after minute 10).

Every --sample seconds it reads `portcullis_table_rows{table=...}` and the purge counters
from `/metrics` (the janitor publishes both after each run) and prints one line. At the
end it compares, per table, the rows left with the rows the load made during the last
row lifetime (plus the janitor's 10 s interval): a bounded table holds about what its
lifetime explains (ratio near 1) however long the run; a table the janitor missed holds
everything ever made. Counting what was made, rather than expecting a flat line, keeps
the verdict right when the load's rate changes (anything else running on the machine
changes it).

Sessions and authorization codes are not loaded here (they need whole browser flows; see
bench/flows.py); the janitor's tests cover them. Standard library only. Exit status 1 if a
judged table kept growing or the load saw errors.
"""

import argparse
import base64
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENT_ID = "janitor-bench"
REDIRECT_URI = "https://app.example.com/callback"
PKCE_CHALLENGE = "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8"

# What makes rows in each table: (load counter, rows per event). With a lifetime, this
# gives the steady state a bounded table must stay near: rate x rows per event x lifetime.
SOURCES = {
    "authorization_requests": ("authorize", 1),
    "refresh_tokens": ("logins", 2),
    "grants": ("logins", 1),
    "revoked_tokens": ("logins", 1),
    "login_failures": ("failed_logins", 1),
}
# Row lifetimes under the settings below, to know which tables a run can judge.
LIFETIMES = {
    "authorization_requests": 600,
    "refresh_tokens": 60,  # the idle lifetime: each token expires 60 s after issue
    "grants": 120 + 60,  # absolute lifetime plus clock skew
    "revoked_tokens": 60 + 60,  # access token lifetime plus clock skew
    "login_failures": 60,
    "sessions": 3600,
    "authorization_codes": 660,
}
SETTINGS = {
    "PORTCULLIS_TOKENS__ACCESS_TOKEN_LIFETIME_SECS": "60",
    "PORTCULLIS_TOKENS__REFRESH_TOKEN_IDLE_SECS": "60",
    "PORTCULLIS_TOKENS__REFRESH_TOKEN_ABSOLUTE_SECS": "120",
    "PORTCULLIS_LOGIN__WINDOW_SECS": "60",
    "PORTCULLIS_LOGIN__LOCK_SECS": "60",
    "PORTCULLIS_JANITOR__INTERVAL_SECS": "10",
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


def log(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(args, sql):
    subprocess.run(
        ["psql", "-h", args.pg_host, "-p", str(args.pg_port), "-U", args.pg_user,
         "-d", args.pg_admin_db, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
    )


class Server:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix=f"portcullis-janitor-{args.backend}.")
        self.proc, self.db = None, None

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
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.tmp,
            "PORTCULLIS_ISSUER": self.issuer,
            "PORTCULLIS_DATA_DIR": os.path.join(self.tmp, "data"),
            "PORTCULLIS_HTTP__BIND": f"127.0.0.1:{self.port}",
            "PORTCULLIS_ADMIN__BIND": f"127.0.0.1:{self.admin}",
            "PORTCULLIS_LOG__LEVEL": "warn",
            **SETTINGS,
        }
        if self.args.backend == "postgres":
            self.db = f"portcullis_janitor_{os.getpid()}"
            psql(self.args, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            psql(self.args, f'CREATE DATABASE "{self.db}"')
            self.env["PORTCULLIS_DATABASE__URL"] = (
                f"postgres://{self.args.pg_user}@{self.args.pg_host}:{self.args.pg_port}/{self.db}")
        self.cli(["migrate"])
        self.password = secrets.token_urlsafe(18)
        self.cli(["user", "create", "bench-user", "--password-stdin"], stdin=self.password + "\n")
        out = self.cli(["--json", "client", "create", "--name", "Janitor Bench",
                        "--client-id", CLIENT_ID, "--redirect-uri", REDIRECT_URI,
                        "--grant", "password", "--grant", "refresh_token",
                        "--grant", "authorization_code",
                        "--scope", "openid", "--scope", "offline_access"])
        self.secret = json.loads(out)["client_secret"]
        self.logf = open(os.path.join(self.tmp, "server.log"), "wb")
        self.proc = subprocess.Popen([self.args.bin, "serve"], cwd=self.tmp, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=self.logf,
                                     stdin=subprocess.DEVNULL)
        for _ in range(600):
            if self.proc.poll() is not None:
                raise SystemExit(f"portcullis exited at start; see {self.tmp}/server.log")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=1)
                c.request("GET", "/health/ready")
                if c.getresponse().status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("portcullis not ready within 60 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.db:
            try:
                psql(self.args, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            except (subprocess.SubprocessError, OSError) as err:
                log(f"could not drop database {self.db}: {err}")
        shutil.rmtree(self.tmp, ignore_errors=True)


class Load:
    """Constant load from a few threads, each with its own keep-alive connection."""

    def __init__(self, server, authorize_rate):
        self.s = server
        self.stop = threading.Event()
        self.counts = {"logins": 0, "failed_logins": 0, "authorize": 0, "errors": 0}
        self.lock = threading.Lock()
        self.authorize_rate = authorize_rate
        basic = base64.b64encode(f"{CLIENT_ID}:{server.secret}".encode()).decode()
        self.auth = {"Authorization": f"Basic {basic}",
                     "Content-Type": "application/x-www-form-urlencoded"}

    def count(self, key):
        with self.lock:
            self.counts[key] += 1

    def post(self, conn, path, form):
        conn.request("POST", path, urllib.parse.urlencode(form), self.auth)
        r = conn.getresponse()
        return r.status, r.read()

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)

    def logins(self):
        conn = self.conn()
        while not self.stop.is_set():
            try:
                st, body = self.post(conn, "/token", {
                    "grant_type": "password", "username": "bench-user",
                    "password": self.s.password, "scope": "offline_access"})
                if st != 200:
                    raise RuntimeError(f"password grant {st}")
                t = json.loads(body)
                st, body = self.post(conn, "/token", {
                    "grant_type": "refresh_token", "refresh_token": t["refresh_token"]})
                if st != 200:
                    raise RuntimeError(f"refresh {st}")
                st, _ = self.post(conn, "/revoke", {"token": json.loads(body)["access_token"]})
                if st != 200:
                    raise RuntimeError(f"revoke {st}")
                self.count("logins")
            except (OSError, RuntimeError, ValueError, KeyError, http.client.HTTPException) as e:
                log(f"login loop: {e}")
                self.count("errors")
                conn = self.conn()
                time.sleep(0.1)

    def failed_logins(self):
        conn = self.conn()
        while not self.stop.is_set():
            try:
                st, _ = self.post(conn, "/token", {
                    "grant_type": "password", "username": f"nobody-{secrets.token_hex(6)}",
                    "password": "wrong"})
                # 400 invalid_grant is the expected answer; 503 would be the argon2 pool.
                if st != 400:
                    raise RuntimeError(f"failed login {st}")
                self.count("failed_logins")
                # Keep the per-IP throttle (50 failures per window) from locking the
                # address, which would stop the other loops' logins too.
                time.sleep(1.5)
            except (OSError, RuntimeError, http.client.HTTPException) as e:
                log(f"failed-login loop: {e}")
                self.count("errors")
                conn = self.conn()
                time.sleep(0.1)

    def authorize(self):
        conn = self.conn()
        gap = 1.0 / self.authorize_rate
        while not self.stop.is_set():
            q = urllib.parse.urlencode({
                "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
                "scope": "openid", "state": secrets.token_hex(8),
                "code_challenge": PKCE_CHALLENGE, "code_challenge_method": "S256"})
            try:
                conn.request("GET", f"/authorize?{q}")
                r = conn.getresponse()
                r.read()
                if r.status != 303:
                    raise RuntimeError(f"authorize {r.status}")
                self.count("authorize")
            except (OSError, RuntimeError, http.client.HTTPException) as e:
                log(f"authorize loop: {e}")
                self.count("errors")
                conn = self.conn()
            time.sleep(gap)

    def start(self):
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self.logins, self.failed_logins, self.authorize)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=35)


def metrics(server):
    c = http.client.HTTPConnection("127.0.0.1", server.admin, timeout=5)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    rows = {m.group(1): int(float(m.group(2))) for m in
            re.finditer(r'^portcullis_table_rows\{table="(\w+)"\} (\S+)$', text, re.M)}
    purged = {m.group(1): int(float(m.group(2))) for m in
              re.finditer(r'^portcullis_janitor_purged_rows_total\{table="(\w+)"\} (\S+)$',
                          text, re.M)}
    return rows, purged


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--duration", type=int, default=900, help="seconds of load")
    ap.add_argument("--sample", type=int, default=30, help="seconds between samples")
    ap.add_argument("--authorize-rate", type=float, default=20, help="GET /authorize per second")
    ap.add_argument("--bin", default=os.environ.get(
        "PORTCULLIS_BIN", os.path.join(REPO, "target", "release", "portcullis")))
    ap.add_argument("--pg-host", default=os.environ.get("BENCH_PG_HOST", "127.0.0.1"))
    ap.add_argument("--pg-port", type=int, default=int(os.environ.get("BENCH_PG_PORT", "5432")))
    ap.add_argument("--pg-user", default=os.environ.get("BENCH_PG_USER", "postgres"))
    ap.add_argument("--pg-admin-db", default=os.environ.get("BENCH_PG_DB", "test"))
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        raise SystemExit(f"no binary at {args.bin}: cargo build --release --bin portcullis")

    server = Server(args)
    try:
        server.start()
        log(f"{args.backend}: server pid {server.proc.pid} on {server.issuer}")
        load = Load(server, args.authorize_rate)
        load.start()
        samples = []
        start = time.monotonic()
        tables = sorted(LIFETIMES)
        print(f"# janitor bench, {args.backend}, {args.duration} s, sample every {args.sample} s")
        print("| t (s) | " + " | ".join(tables) + " | purged (all tables) | logins | failed | authorize |")
        print("|---:|" + "---:|" * (len(tables) + 4))
        while True:
            time.sleep(args.sample)
            t = time.monotonic() - start
            rows, purged = metrics(server)
            with load.lock:
                c = dict(load.counts)
            samples.append((t, rows, c))
            print(f"| {t:.0f} | " + " | ".join(str(rows.get(k, "-")) for k in tables)
                  + f" | {sum(purged.values())} | {c['logins']} | {c['failed_logins']}"
                  + f" | {c['authorize']} |", flush=True)
            if t >= args.duration:
                break
        load.finish()
    finally:
        server.stop()

    # A table is bounded when it holds what its lifetime explains and no more: the rows
    # made during the last `lifetime + janitor interval` seconds (the load's rate changes
    # when anything else runs on the machine, so a fixed threshold would mislead).
    print()
    print("| table | row lifetime (s) | rows at the end | made in the last lifetime + 10 s | ratio | verdict |")
    print("|---|---:|---:|---:|---:|---|")
    grew = False
    t_end, rows_end, counts_end = samples[-1]
    for table in sorted(LIFETIMES):
        rows = rows_end.get(table, 0)
        if table not in SOURCES:
            print(f"| {table} | {LIFETIMES[table]} | {rows} | - | - | not loaded here |")
            continue
        counter, per_event = SOURCES[table]
        window = LIFETIMES[table] + 10
        if window + args.sample > t_end:
            print(f"| {table} | {LIFETIMES[table]} | {rows} | - | - | not judged: rows outlive the run |")
            continue
        # The last sample at least `window` seconds before the end.
        before = [c for t, _, c in samples if t <= t_end - window]
        made = (counts_end[counter] - (before[-1][counter] if before else 0)) * per_event
        # Throttling rows: one per username plus one for the client IP.
        if table == "login_failures":
            made += 1
        ratio = rows / made if made else float("inf")
        ok = rows <= made * 1.25 + 20
        grew = grew or not ok
        print(f"| {table} | {LIFETIMES[table]} | {rows} | {made} | {ratio:.2f} | "
              f"{'bounded' if ok else 'GROWING'} |")
    print(f"\nload: {load.counts}")
    sys.exit(1 if grew or load.counts["errors"] else 0)


if __name__ == "__main__":
    main()
