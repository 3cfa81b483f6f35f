"""What the browser scripts share: a throw-away Portcullis, PKCE, TOTP, ID token checks,
and a headless Chromium with a WebAuthn virtual authenticator.

Everything stays on loopback. The issuer is `http://localhost:PORT` because WebAuthn
refuses an IP address as a relying-party id, and Portcullis takes the RP id from the
issuer's host; Chromium is told to resolve `localhost` to 127.0.0.1 only, where the server
listens. Every wait is bounded: Playwright actions time out, the server must be ready in a
minute, and a watchdog ends the whole script (server included) past its deadline, so a
hang fails instead of stalling CI.
"""

import base64
import ctypes
import hashlib
import hmac
import http.client
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The issuer is http://localhost:PORT and the server listens on 127.0.0.1 only; without
    # the first rule Chromium may try ::1 first. Every other name fails without a DNS query,
    # so nothing the pages might ask for leaves the machine; 127.0.0.1 (the client's
    # callback) must be excluded, or the catch-all refuses it too.
    "--host-resolver-rules=MAP localhost 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
ACTION_TIMEOUT_MS = 15_000
NAVIGATION_TIMEOUT_MS = 30_000


def log(tag, msg):
    print(f"[{tag}] {msg}", file=sys.stderr, flush=True)


def default_binary():
    return os.environ.get("PORTCULLIS_BIN", os.path.join(REPO, "target", "debug", "portcullis"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # Runs in the child before exec: the server gets SIGTERM if this script dies, even by
    # SIGKILL, so no server outlives a killed test.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Watchdog:
    """Ends the process (after stopping the server) if the script runs past `seconds`."""

    def __init__(self, seconds, tag):
        self.tag = tag
        self.servers = []
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()

    def _fire(self):
        log(self.tag, "FAILED: the deadline passed; stopping the server and exiting")
        for s in self.servers:
            s.kill()
            log(self.tag, f"its folder and log: {s.tmp}")
        print(f"{self.tag}: 0 passed, 1 failed", flush=True)
        os._exit(3)

    def cancel(self):
        self.timer.cancel()


class Callback:
    """The client's redirect URI: a loopback HTTP server that remembers every query it
    receives and answers with a small page. The browser really lands there, as it would
    at a client, so nothing in the browser is faked."""

    def __init__(self):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                received.append(self.path)
                body = b"<!doctype html><title>Example App</title><p>Back at the client."
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.httpd.server_address[1]}/callback"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def code(self, state):
        if not self.received:
            raise AssertionError("no redirect reached the client")
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.received[-1]).query)
        if "error" in q:
            raise AssertionError(f"the client got an error: {self.received[-1]}")
        if q.get("state") != [state]:
            raise AssertionError(f"state mismatch in {self.received[-1]}")
        if "code" not in q:
            raise AssertionError(f"no code in {self.received[-1]}")
        return q["code"][0]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Server:
    """`portcullis serve` on free loopback ports, with a fresh SQLite database in a
    temporary folder and an environment of PORTCULLIS_* variables only."""

    def __init__(self, binary, tag, extra_env=None):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"{binary} not found: run `cargo build` first (or set PORTCULLIS_BIN)")
        self.bin = binary
        self.tag = tag
        self.tmp = tempfile.mkdtemp(prefix=f"portcullis-{tag}.")
        self.proc = None
        self.port = free_port()
        self.admin_port = free_port()
        while self.admin_port == self.port:
            self.admin_port = free_port()
        self.issuer = f"http://localhost:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.tmp,
            "PORTCULLIS_ISSUER": self.issuer,
            "PORTCULLIS_DATA_DIR": os.path.join(self.tmp, "data"),
            "PORTCULLIS_HTTP__BIND": f"127.0.0.1:{self.port}",
            "PORTCULLIS_ADMIN__BIND": f"127.0.0.1:{self.admin_port}",
        }
        self.env.update(extra_env or {})
        self.callback = Callback()

    def cli(self, argv, stdin=None):
        r = subprocess.run([self.bin, *argv], cwd=self.tmp, env=self.env, input=stdin,
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise SystemExit(f"portcullis {' '.join(argv)} failed: {r.stderr.strip()[-800:]}")
        return r.stdout

    def create_user(self, username, password, roles=(), email=None, name=None):
        argv = ["user", "create", username, "--password-stdin"]
        if email:
            argv += ["--email", email]
        if name:
            argv += ["--name", name]
        for role in roles:
            argv += ["--role", role]
        self.cli(argv, stdin=password + "\n")

    def create_client(self, client_id, name, public=False, first_party=False,
                      scopes=("openid", "profile", "email")):
        argv = ["--json", "client", "create", "--name", name, "--client-id", client_id,
                "--redirect-uri", self.callback.uri]
        for scope in scopes:
            argv += ["--scope", scope]
        if public:
            argv.append("--public")
        if first_party:
            argv.append("--first-party")
        return json.loads(self.cli(argv))

    def start(self):
        self.cli(["migrate"])
        return self

    def serve(self):
        self.logf = open(os.path.join(self.tmp, "server.log"), "wb")
        # stdout is discarded: it could carry a bootstrap password (there is none here, as
        # users exist before the first start, but nothing depends on that).
        self.proc = subprocess.Popen([self.bin, "serve"], cwd=self.tmp, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.logf, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"portcullis serve exited at start:\n{self.log_tail()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=1)
                c.request("GET", "/health/ready")
                if c.getresponse().status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"portcullis serve not ready within 60 s:\n{self.log_tail()}")

    def log_tail(self, lines=40):
        try:
            with open(os.path.join(self.tmp, "server.log"), "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()

    def stop(self, keep=False):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.callback.close()
        if keep:
            log(self.tag, f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- OAuth ----------------------------------------------------------------------------

    def authorize(self, client_id, scope="openid profile email", **extra):
        """An authorization request with PKCE; returns (url, verifier, state, nonce)."""
        verifier = b64url(secrets.token_bytes(32))
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        q = {"response_type": "code", "client_id": client_id, "redirect_uri": self.callback.uri,
             "scope": scope, "state": state, "nonce": nonce, "code_challenge": challenge,
             "code_challenge_method": "S256"}
        q.update(extra)
        url = f"{self.issuer}/authorize?{urllib.parse.urlencode(q, quote_via=urllib.parse.quote)}"
        return url, verifier, state, nonce

    def post_form(self, path, fields):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("POST", path, body=urllib.parse.urlencode(fields),
                  headers={"Content-Type": "application/x-www-form-urlencoded",
                           "Host": f"localhost:{self.port}"})
        r = c.getresponse()
        return r.status, r.read()

    def get_json(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", path, headers={"Host": f"localhost:{self.port}"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise AssertionError(f"GET {path}: {r.status} {body[:300]!r}")
        return json.loads(body)

    def redeem(self, client_id, code, verifier):
        status, body = self.post_form("/token", {
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.callback.uri,
            "client_id": client_id, "code_verifier": verifier})
        if status != 200:
            raise AssertionError(f"/token answered {status}: {body[:500]!r}")
        return json.loads(body)

    def verify_id_token(self, token, client_id, nonce):
        """Checks the RS256 signature against /jwks.json and the standard claims; returns
        the claims."""
        head_b64, body_b64, sig_b64 = token.split(".")
        header = json.loads(b64url_decode(head_b64))
        claims = json.loads(b64url_decode(body_b64))
        if header.get("alg") != "RS256":
            raise AssertionError(f"unexpected ID token alg {header.get('alg')}")
        keys = [k for k in self.get_json("/jwks.json")["keys"] if k.get("kid") == header.get("kid")]
        if not keys:
            raise AssertionError(f"no JWKS key with kid {header.get('kid')}")
        if not rs256_verify(keys[0], f"{head_b64}.{body_b64}".encode(), b64url_decode(sig_b64)):
            raise AssertionError("the ID token's signature does not verify")
        now = time.time()
        problems = []
        if claims.get("iss") != self.issuer:
            problems.append(f"iss {claims.get('iss')!r} != {self.issuer!r}")
        aud = claims.get("aud")
        if aud != client_id and not (isinstance(aud, list) and client_id in aud):
            problems.append(f"aud {aud!r} does not name {client_id}")
        if claims.get("nonce") != nonce:
            problems.append("nonce differs")
        if not claims.get("exp", 0) > now:
            problems.append("expired")
        if problems:
            raise AssertionError("ID token: " + "; ".join(problems))
        return claims


# --- small pure helpers --------------------------------------------------------------------

def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256_verify(jwk, message, signature):
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), in plain integers."""
    n = int.from_bytes(b64url_decode(jwk["n"]), "big")
    e = int.from_bytes(b64url_decode(jwk["e"]), "big")
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    em = pow(int.from_bytes(signature, "big"), e, n).to_bytes(k, "big")
    t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)


def totp(secret_b32, at=None, step=30, digits=6):
    """RFC 6238 with HMAC-SHA-1, as authenticator apps compute it."""
    key = base64.b32decode(secret_b32.replace(" ", "").upper() + "=" * (-len(secret_b32.replace(" ", "")) % 8))
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


# RFC 6238 appendix B, SHA-1 (the 8-digit vectors cut to 6 digits).
assert totp(base64.b32encode(b"12345678901234567890").decode(), at=59, digits=8) == "94287082"
assert totp(base64.b32encode(b"12345678901234567890").decode(), at=1111111109) == "081804"


def fresh_totp(secret_b32, used_steps, step=30):
    """A code from a time step not used yet: the server accepts each step once per user,
    so a second code may mean waiting for the next step (at most 30 s)."""
    while True:
        now = time.time()
        current = int(now // step)
        if current not in used_steps:
            # Not in the last second of a step: the code could expire on the way.
            if (current + 1) * step - now > 1.5:
                used_steps.add(current)
                return totp(secret_b32, at=now, step=step)
        time.sleep(min(1.0, (current + 1) * step - now + 0.05))


# --- the browser ----------------------------------------------------------------------------

def launch(pw, chromium):
    if not os.access(chromium, os.X_OK):
        raise SystemExit(f"{chromium} not found: apt-get install chromium")
    return pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True,
                              timeout=60_000)


class Tab:
    """A fresh browser profile (context) with one page. Requests to anything but the
    issuer and the client's callback are aborted and reported (the pages ask for nothing
    else). With `intercept=False` nothing is routed: while Playwright intercepts requests
    it answers every CORS preflight itself, permissively, so the server's own answer is
    never seen; a test of CORS turns interception off, and Chromium's resolver rules still
    keep every request on loopback."""

    def __init__(self, browser, server, viewport=None, scale=1, mobile=False, scheme="light",
                 intercept=True):
        self.server = server
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800},
                                           device_scale_factor=scale, is_mobile=mobile,
                                           has_touch=mobile, color_scheme=scheme, locale="en-US")
        self.context.set_default_timeout(ACTION_TIMEOUT_MS)
        self.context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        self.page = self.context.new_page()
        # What should fail a check (errors, failed requests), and what is only worth a look
        # (Chromium's other console notes, such as its [DOM] hints about forms).
        self.messages = []
        self.notes = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.messages.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.messages.append(
            f"request failed: {r.url} ({r.failure})"))
        if intercept:
            self.context.route("**/*", self._route)
        self.cdp = None

    def _console(self, message):
        line = f"console {message.type}: {message.text}"
        (self.messages if message.type in ("error", "warning") else self.notes).append(line)

    def _route(self, route):
        url = route.request.url
        for allowed in (self.server.issuer + "/", self.server.callback.uri):
            if url.startswith(allowed):
                return route.continue_()
        self.messages.append(f"blocked a request off the server: {url}")
        return route.abort()

    def add_authenticator(self):
        """The DevTools WebAuthn virtual authenticator: a platform authenticator (internal
        transport) that holds discoverable credentials and verifies the user without a
        prompt."""
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        result = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2",
            "ctap2Version": "ctap2_1",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }})
        self.authenticator_id = result["authenticatorId"]
        return self.authenticator_id

    def without_conditional_mediation(self):
        """Makes the pages see a browser without conditional mediation, so they leave the
        passkey to the button. Headless Chromium lets a virtual authenticator answer a
        conditional request by itself (no person picks the passkey from the username
        field's suggestions), which would sign in before any click."""
        self.page.add_init_script(
            "if (window.PublicKeyCredential) {"
            " PublicKeyCredential.isConditionalMediationAvailable ="
            " () => Promise.resolve(false); }")

    def copy_credential(self, credential):
        """Puts a credential from another virtual authenticator into this one: the same
        passkey, synced to another browser."""
        self.cdp.send("WebAuthn.addCredential", {
            "authenticatorId": self.authenticator_id,
            "credential": {k: credential[k] for k in (
                "credentialId", "isResidentCredential", "rpId", "privateKey", "userHandle",
                "signCount") if k in credential},
        })

    def credentials(self):
        return self.cdp.send("WebAuthn.getCredentials",
                             {"authenticatorId": self.authenticator_id})["credentials"]

    def goto(self, url):
        return self.page.goto(url, wait_until="load")

    def path(self):
        return urllib.parse.urlsplit(self.page.url).path

    def submit(self, selector):
        """Clicks a submit button and waits for the page it leads to."""
        with self.page.expect_navigation(wait_until="load"):
            self.page.click(selector)

    def sign_in_password(self, username, password):
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.submit("form[action$='/login'] button[type=submit]")

    def past_recovery_codes(self):
        """The first factor a user adds shows their recovery codes once, with a Continue
        link; follows it. Returns how many codes were shown (0: no such page)."""
        codes = self.page.locator("ul.codes li").count()
        if codes:
            with self.page.expect_navigation(wait_until="load"):
                self.page.click("a.button")
        return codes

    def close(self):
        self.context.close()
