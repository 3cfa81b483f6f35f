#!/usr/bin/env python3
"""Portcullis behind a real reverse proxy: Debian's nginx terminating TLS with a
certificate from a test CA made at run time, forwarding a sub-path to `serve`.

    python3 tests/proxy/nginx_tls.py [--timeout 120]

What it proves, through the proxy only (the script never talks to Portcullis directly):
- discovery at `https://localhost:PORT/auth/.well-known/openid-configuration` and at the
  RFC 8414 location `/.well-known/oauth-authorization-server/auth` names the https issuer
  with its path, and every endpoint it lists is under it;
- the authorization code flow with PKCE through the real login form (CSRF token and
  request id from the HTML, cookies marked Secure), then the token endpoint, then
  introspection by a confidential client with the `introspector` role;
- the client address: the script connects from 127.0.0.3 and sends a spoofed
  `X-Forwarded-For: 6.6.6.6`; nginx connects to Portcullis from 127.0.0.2 (`proxy_bind`)
  and appends the real peer; Portcullis trusts 127.0.0.2/32 (`proxy.trusted_proxies`,
  given as a CIDR range), so the audit log's login event carries 127.0.0.3, never the
  spoofed 6.6.6.6 nor nginx's own address.

The master key comes from `portcullis keys generate-master-key` into a file read through
`PORTCULLIS_KEYS__MASTER_KEYS_FILE`, as in production. Everything listens on loopback;
the whole run is bounded by --timeout (a watchdog kills nginx and the server past it).
Prints `N passed, N failed` last.
"""

import argparse
import base64
import hashlib
import html.parser
import json
import os
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

import requests
from requests.adapters import HTTPAdapter

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENT_ADDR = "127.0.0.3"   # where the "user" connects from
NGINX_ADDR = "127.0.0.2"    # where nginx connects to Portcullis from
SPOOFED = "6.6.6.6"
PATH_PREFIX = "/auth"

checks = {"passed": 0, "failed": 0}


def log(msg):
    print(f"[proxy] {msg}", file=sys.stderr, flush=True)


def check(cond, what):
    if cond:
        checks["passed"] += 1
        log(f"ok   {what}")
    else:
        checks["failed"] += 1
        log(f"FAIL {what}")
        raise AssertionError(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    return r.stdout


class SourceAddressAdapter(HTTPAdapter):
    """Connects from CLIENT_ADDR, so the proxy sees a client other than itself."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (CLIENT_ADDR, 0)
        super().init_poolmanager(*args, **kwargs)


class Forms(html.parser.HTMLParser):
    """The forms of a page: action and the named inputs (hidden ones included)."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


def form_posting_to(page, suffix):
    p = Forms()
    p.feed(page)
    for f in p.forms:
        if f["action"].endswith(suffix):
            return f
    raise AssertionError(f"no form posting to {suffix} in the page: {page[:400]!r}")


def make_pki(tmp):
    """A test CA and a server certificate for localhost / 127.0.0.1 signed by it."""
    ca_key, ca_crt = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.pem")
    key, csr, crt = (os.path.join(tmp, n) for n in ("server.key", "server.csr", "server.pem"))
    ext = os.path.join(tmp, "server.ext")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "1",
         "-subj", "/CN=Portcullis proxy test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=localhost"])
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
         "-CAcreateserial", "-out", crt, "-days", "1", "-extfile", ext])
    return ca_crt, crt, key


NGINX_CONF = """
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    upstream portcullis {{ server 127.0.0.1:{upstream}; }}

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;

        # The recipe of docs/proxy.md ("nginx", "Under a sub-path"): the prefix is
        # forwarded as is, never stripped.
        location {prefix}/ {{
            proxy_pass http://portcullis;
            proxy_bind {nginx_addr};
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
        location = /.well-known/oauth-authorization-server{prefix} {{
            proxy_pass http://portcullis;
            proxy_bind {nginx_addr};
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
        location / {{ return 404; }}
    }}
}}
"""


class Stack:
    def __init__(self, binary, tmp):
        self.bin = binary
        self.tmp = tmp
        self.procs = []
        self.port = free_port()
        self.upstream = free_port()
        self.admin = free_port()
        self.issuer = f"https://localhost:{self.port}{PATH_PREFIX}"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "PORTCULLIS_ISSUER": self.issuer,
            "PORTCULLIS_DATA_DIR": os.path.join(tmp, "data"),
            "PORTCULLIS_HTTP__BIND": f"127.0.0.1:{self.upstream}",
            "PORTCULLIS_ADMIN__BIND": f"127.0.0.1:{self.admin}",
            "PORTCULLIS_KEYS__MASTER_KEYS_FILE": os.path.join(tmp, "master_keys"),
            # A range, as a cloud load balancer's would be; /32 keeps the test exact.
            "PORTCULLIS_PROXY__TRUSTED_PROXIES": f"{NGINX_ADDR}/32",
            "PORTCULLIS_LOG__FORMAT": "json",
        }

    def cli(self, argv, stdin=None):
        r = subprocess.run([self.bin, *argv], cwd=self.tmp, env=self.env, input=stdin,
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise SystemExit(f"portcullis {' '.join(argv)} failed: {r.stderr.strip()[-800:]}")
        return r.stdout

    def start(self):
        # The production path for the master key: generated by the CLI into a file.
        key = subprocess.run([self.bin, "keys", "generate-master-key"], capture_output=True,
                             text=True, timeout=30, env={"PATH": self.env["PATH"]})
        check(key.returncode == 0 and len(base64.b64decode(key.stdout.strip())) == 32,
              "`keys generate-master-key` prints a base64 32-byte key, with no configuration")
        fd = os.open(self.env["PORTCULLIS_KEYS__MASTER_KEYS_FILE"], os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.stdout)

        self.cli(["migrate"])
        self.password = secrets.token_urlsafe(18)
        self.cli(["user", "create", "alice", "--password-stdin"], stdin=self.password + "\n")
        self.redirect_uri = "http://127.0.0.1:9/callback"  # never reached: not followed
        self.cli(["client", "create", "--name", "Web app", "--client-id", "webapp", "--public",
                  "--redirect-uri", self.redirect_uri, "--scope", "openid", "--scope", "profile"])
        rs = json.loads(self.cli(["--json", "client", "create", "--name", "Orders API",
                                  "--client-id", "orders-api", "--grant", "client_credentials",
                                  "--role", "introspector"]))
        self.rs_secret = rs["client_secret"]

        logf = open(os.path.join(self.tmp, "server.log"), "wb")
        self.server = subprocess.Popen([self.bin, "serve"], cwd=self.tmp, env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=logf)
        self.procs.append(self.server)
        deadline = time.monotonic() + 60
        while True:
            if self.server.poll() is not None:
                raise SystemExit(f"portcullis serve exited at start:\n{self.tail('server.log')}")
            try:
                with socket.create_connection(("127.0.0.1", self.admin), timeout=1) as s:
                    s.sendall(b"GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"portcullis not ready in 60 s:\n{self.tail('server.log')}")
            time.sleep(0.1)

        self.ca, crt, key = make_pki(self.tmp)
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.tmp, d), exist_ok=True)
        conf = os.path.join(self.tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(
                # As root, workers would otherwise run as nobody and not reach the folder.
                user="user root;" if os.geteuid() == 0 else "",
                tmp=self.tmp, upstream=self.upstream, port=self.port, crt=crt, key=key,
                prefix=PATH_PREFIX, nginx_addr=NGINX_ADDR))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        run([nginx, "-t", "-q", "-e", os.path.join(self.tmp, "nginx-error.log"), "-c", conf])
        self.nginx = subprocess.Popen(
            [nginx, "-e", os.path.join(self.tmp, "nginx-error.log"), "-c", conf,
             "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(self.nginx)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.nginx.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"nginx did not start:\n{self.tail('nginx-error.log')}")
                time.sleep(0.1)

    def tail(self, name, lines=30):
        try:
            with open(os.path.join(self.tmp, name), "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return f"(no {name})"

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()


def flow(stack):
    http = requests.Session()
    # Only the test CA, and no proxy from the environment: REQUESTS_CA_BUNDLE or
    # HTTPS_PROXY set by the machine would otherwise win over the session's settings.
    http.trust_env = False
    http.verify = stack.ca
    http.mount("https://", SourceAddressAdapter())
    # A client that tries to choose its address: nginx appends the real one after it.
    http.headers["X-Forwarded-For"] = SPOOFED
    issuer = stack.issuer
    origin = f"https://localhost:{stack.port}"

    # --- discovery, both locations -------------------------------------------------------
    oidc = http.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
    check(oidc.status_code == 200, "OpenID discovery answers through nginx over TLS")
    doc = oidc.json()
    check(doc["issuer"] == issuer, f"discovery's issuer is the https issuer with its path ({issuer})")
    urls = {k: v for k, v in doc.items() if k.endswith("_endpoint") or k == "jwks_uri"}
    check(urls and all(v.startswith(issuer + "/") for v in urls.values()),
          f"every endpoint in discovery is under the issuer: {sorted(urls)}")
    rfc8414 = http.get(f"{origin}/.well-known/oauth-authorization-server{PATH_PREFIX}", timeout=10)
    check(rfc8414.status_code == 200 and rfc8414.json()["issuer"] == issuer,
          "RFC 8414 metadata at /.well-known/oauth-authorization-server/auth names the same issuer")
    jwks = http.get(doc["jwks_uri"], timeout=10)
    check(jwks.status_code == 200 and jwks.json()["keys"], "the JWKS is served at jwks_uri")

    # --- authorization code with PKCE through the login form -----------------------------
    verifier = b64url(secrets.token_bytes(32))
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(12)
    query = {"response_type": "code", "client_id": "webapp", "redirect_uri": stack.redirect_uri,
             "scope": "openid profile", "state": state, "code_challenge": challenge,
             "code_challenge_method": "S256", "nonce": secrets.token_urlsafe(8)}
    page = http.get(doc["authorization_endpoint"], params=query, timeout=10)
    check(page.status_code == 200 and page.url.startswith(issuer + "/"),
          f"/authorize leads to the login page under the issuer ({urllib.parse.urlsplit(page.url).path})")
    login = form_posting_to(page.text, "/login")
    check(login["action"].startswith(PATH_PREFIX + "/"),
          f"the login form posts under the sub-path ({login['action']})")
    fields = dict(login["fields"], username="alice", password=stack.password)
    answer = http.post(urllib.parse.urljoin(page.url, login["action"]), data=fields,
                       headers={"Origin": origin}, allow_redirects=False, timeout=30)
    # Consent (a third-party client), then the redirect to the client.
    hops = 0
    while answer.status_code in (302, 303) and hops < 5:
        location = urllib.parse.urljoin(answer.url, answer.headers["Location"])
        if location.startswith(stack.redirect_uri):
            break
        answer = http.get(location, allow_redirects=False, timeout=10)
        hops += 1
    if answer.status_code == 200 and "/consent" in answer.text:
        consent = form_posting_to(answer.text, "/consent")
        answer = http.post(urllib.parse.urljoin(answer.url, consent["action"]),
                           data=dict(consent["fields"], decision="allow"),
                           headers={"Origin": origin}, allow_redirects=False, timeout=10)
    check(answer.status_code in (302, 303), f"the sign-in ends in a redirect ({answer.status_code})")
    location = answer.headers["Location"]
    check(location.startswith(stack.redirect_uri + "?"), f"to the client's redirect URI ({location[:60]}...)")
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    check(params.get("state") == [state] and params.get("iss") == [issuer],
          "the response carries state and the https issuer as iss (RFC 9207)")
    cookies = list(http.cookies)
    check(cookies and all(c.secure for c in cookies),
          f"every cookie is Secure behind TLS ({[c.name for c in cookies]})")

    # --- token and introspection ---------------------------------------------------------
    token = http.post(doc["token_endpoint"], data={
        "grant_type": "authorization_code", "code": params["code"][0],
        "redirect_uri": stack.redirect_uri, "client_id": "webapp", "code_verifier": verifier},
        timeout=30)
    check(token.status_code == 200, f"the token endpoint redeems the code ({token.status_code})")
    tokens = token.json()
    check("access_token" in tokens and "id_token" in tokens, "an access token and an ID token")
    claims = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
    check(claims["iss"] == issuer, "the ID token's iss is the https issuer")

    intro = http.post(doc["introspection_endpoint"], data={"token": tokens["access_token"]},
                      auth=("orders-api", stack.rs_secret), timeout=10)
    check(intro.status_code == 200, "introspection answers through the proxy")
    body = intro.json()
    check(body.get("active") is True and body.get("iss") == issuer and body.get("client_id") == "webapp",
          "the access token is active, issued by the https issuer to webapp")
    userinfo = http.get(doc["userinfo_endpoint"],
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10)
    check(userinfo.status_code == 200 and userinfo.json().get("sub") == claims["sub"],
          "userinfo answers for the token")

    # --- the client address Portcullis saw ------------------------------------------------
    events = json.loads(stack.cli(["--json", "audit", "query", "--type", "login.*"]))
    logins = [e for e in events if e["event_type"] == "login.success"]
    check(logins, f"the audit log has the sign-in ({[e['event_type'] for e in events]})")
    detail = logins[-1]["details"]
    check(detail.get("ip") == CLIENT_ADDR,
          f"the audit log's client address is the forwarded one, {CLIENT_ADDR} "
          f"(not {SPOOFED}, not nginx's {NGINX_ADDR}): {detail.get('ip')}")
    with open(os.path.join(stack.tmp, "nginx-access.log")) as f:
        access = f.read()
    check(access.count(CLIENT_ADDR) >= 5, "nginx saw the client at its own address")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--binary", default=os.environ.get(
        "PORTCULLIS_BIN", os.path.join(REPO, "target", "debug", "portcullis")))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        raise SystemExit(f"{args.binary} not found: run `cargo build` first")
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="portcullis-proxy.")
    # nginx workers (as root: `user root`) and the server both write here.
    os.chmod(tmp, 0o755)
    stack = Stack(args.binary, tmp)

    def watchdog():
        log(f"FAILED: past the {args.timeout:.0f} s deadline; stopping nginx and the server")
        stack.kill()
        print("proxy: 0 passed, 1 failed", flush=True)
        os._exit(3)

    timer = threading.Timer(args.timeout, watchdog)
    timer.daemon = True
    timer.start()
    ok = False
    try:
        stack.start()
        flow(stack)
        ok = True
    except Exception as err:  # noqa: BLE001 - any failure: report, keep the logs
        if not isinstance(err, AssertionError):
            checks["failed"] += 1
            log(f"FAIL {type(err).__name__}: {err}")
        log("server log tail:\n" + stack.tail("server.log"))
        log("nginx error log tail:\n" + stack.tail("nginx-error.log"))
    finally:
        timer.cancel()
        stack.stop()
        if ok and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")
    log(f"took {time.monotonic() - started:.1f} s")
    print(f"proxy: {checks['passed']} passed, {checks['failed']} failed", flush=True)
    return 0 if ok and checks["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
