#!/usr/bin/env python3
"""Rendered pages per second: the sign-in page, the forgot-password page and an error page,
for one binary or several side by side (for instance before and after a change of the
template engine), in one run so their ratio means something.

    python3 bench/pages.py [--bin A [--bin B ...]] [--duration 10] [--connections 1 16]
                           [--rounds 2] [--language en de]

Each binary serves from its own fresh SQLite database on loopback with the rate limits
off (all load comes from 127.0.0.1). Cells run round-robin over the binaries, `--rounds`
times, and the best round of each cell is kept (noise only ever slows a cell down). Per
cell: wrk's req/s and p99, non-2xx answers (must be 0) and the server's CPU seconds per
1,000 requests. The pages:

- `login`: GET /authorize with a valid code + PKCE request for a public client: a pending
  request written to the database, then the login page rendered (CSRF token, client name,
  every message looked up in the catalogue);
- `forgot`: GET /forgot-password: a form page with a CSRF token, no database;
- `error`: GET /authorize for an unknown client: the error page (no redirect to an
  unverified client), the protocol's English sentence translated.

`--language de` sends `Accept-Language: de` so the German catalogue is exercised too.
Needs wrk (installed with apt-get if missing). Prints a table and, with several binaries,
each one's ratio to the first.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUTES = ("login", "forgot", "error")


def log(msg):
    print(f"[pages] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_wrk():
    if shutil.which("wrk"):
        return
    log("wrk not found: installing it (apt-get install -y wrk)")
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"]).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


class Server:
    def __init__(self, binary):
        self.binary = binary
        self.tmp = tempfile.mkdtemp(prefix="portcullis-pages-")
        self.port, self.admin = free_port(), free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PORTCULLIS_ISSUER": self.issuer,
            "PORTCULLIS_DATA_DIR": os.path.join(self.tmp, "data"),
            "PORTCULLIS_KEYS__DEV_MASTER_KEY_FILE": os.path.join(self.tmp, "master.key"),
            "PORTCULLIS_HTTP__BIND": f"127.0.0.1:{self.port}",
            "PORTCULLIS_ADMIN__BIND": f"127.0.0.1:{self.admin}",
            "PORTCULLIS_LOG__LEVEL": "warn",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__AUTHORIZE__PER_SECOND": "0",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__LOGIN__PER_SECOND": "0",
            "PORTCULLIS_RATE_LIMIT__ENDPOINTS__OTHER__PER_SECOND": "0",
            "PORTCULLIS_AUTHORIZE__MAX_PENDING_PER_ADDRESS": "10000000",
            "PORTCULLIS_AUTHORIZE__MAX_PENDING_TOTAL": "10000000",
        }
        redirect = "http://127.0.0.1:9/cb"
        self.cli(["client", "create", "--name", "Bench app", "--client-id", "bench-web",
                  "--public", "--redirect-uri", redirect, "--scope", "openid"])
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": "bench-web", "redirect_uri": redirect,
            "scope": "openid", "state": "s", "code_challenge_method": "S256",
            "code_challenge": "E9Melhoa2OwvFrYMTTxuW9HTk8xZn0IX1Bdz9oxhR5g",
        })
        self.paths = {
            "login": f"/authorize?{query}",
            "forgot": "/forgot-password",
            "error": "/authorize?response_type=code&client_id=nobody&redirect_uri=http%3A%2F%2Fx%2Fcb",
        }
        self.log = open(os.path.join(self.tmp, "server.log"), "wb")
        self.proc = subprocess.Popen([binary, "serve"], env=self.env, cwd=self.tmp,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"{binary} serve exited; see {self.tmp}/server.log")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/health/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{binary} was not ready within 60 s")
            time.sleep(0.2)
        for route, path in self.paths.items():
            status = self.status(path)
            expected = 400 if route == "error" else 200
            if status != expected:
                raise SystemExit(f"{route}: {path} answered {status}, expected {expected}")

    def cli(self, args):
        subprocess.run([self.binary] + args, env=self.env, cwd=self.tmp, check=True,
                       capture_output=True, timeout=60)

    def status(self, path):
        try:
            with urllib.request.urlopen(self.issuer + path, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def wrk(url, connections, duration, language):
    argv = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--latency",
            "-H", f"Accept-Language: {language}", url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    non2xx = int(m.group(1)) if m else 0
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale, total, non2xx


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", action="append",
                    help="a portcullis binary (repeat to compare; default target/release/portcullis)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per cell")
    ap.add_argument("--connections", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--language", nargs="+", default=["en"])
    args = ap.parse_args()
    binaries = args.bin or [os.path.join(REPO, "target", "release", "portcullis")]
    ensure_wrk()
    log(f"load average at start: {os.getloadavg()}")
    servers = [Server(b) for b in binaries]
    best = {}
    try:
        for _ in range(args.rounds):
            for lang in args.language:
                for route in ROUTES:
                    for c in args.connections:
                        for i, s in enumerate(servers):
                            cpu = s.cpu_seconds()
                            rps, p99, total, non2xx = wrk(s.issuer + s.paths[route], c,
                                                          args.duration, lang)
                            cpu_k = (s.cpu_seconds() - cpu) / max(total, 1) * 1000
                            # The error page answers 400 by design; wrk counts it as non-2xx.
                            bad = 0 if route == "error" else non2xx
                            key = (lang, route, c, i)
                            if key not in best or rps > best[key][0]:
                                best[key] = (rps, p99, bad, cpu_k)
                            log(f"{lang} {route:6} c={c:<3} bin{i}: {rps:9.0f} req/s  "
                                f"p99 {p99:7.2f} ms  bad {bad}  cpu {cpu_k:.3f} s/1k")
    finally:
        for s in servers:
            s.stop()
    log(f"load average at end: {os.getloadavg()}")
    print("| lang | page | c | " + " | ".join(f"bin{i} req/s (p99 ms, cpu s/1k)" for i in range(len(binaries)))
          + (" | " + " | ".join(f"bin{i}/bin0" for i in range(1, len(binaries))) if len(binaries) > 1 else "") + " |")
    print("|" + " --- |" * (3 + len(binaries) + max(0, len(binaries) - 1)))
    for lang in args.language:
        for route in ROUTES:
            for c in args.connections:
                cells = [best[(lang, route, c, i)] for i in range(len(binaries))]
                row = [f"{r:,.0f} ({p:.2f}, {k:.3f})" + (f" {bad} bad!" if bad else "")
                       for r, p, bad, k in cells]
                ratios = [f"{cells[i][0] / cells[0][0]:.2f}x" for i in range(1, len(cells))]
                print(f"| {lang} | {route} | {c} | " + " | ".join(row + ratios) + " |")
    for i, b in enumerate(binaries):
        print(f"bin{i}: {b}")
    if any(v[2] for v in best.values()):
        raise SystemExit("some answers were not 2xx")


if __name__ == "__main__":
    main()
