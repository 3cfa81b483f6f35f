#!/usr/bin/env python3
"""A single-page app on another origin signs in with oidc-client-ts in a real browser:
headless Chromium, the npm package's browser bundle, authorization code with PKCE, the
code redeemed at /token from the page, /userinfo and /revoke called from the page. This is
what CORS on the endpoints a browser app calls is for (issue 21; docs/security.md,
"Cross-origin requests"). `.ci/run` runs it after the passkey script.

    npm ci --prefix tests/browser/spa             # once: oidc-client-ts, pinned by the lock
    python3 tests/browser/spa_cors.py             # uses target/debug/portcullis
    python3 tests/browser/spa_cors.py --bin target/release/portcullis --keep

What it does, all on loopback:

1. starts `portcullis serve` with a fresh SQLite database, the issuer
   `http://localhost:PORT`, after creating with the CLI a plain user (no role, so no second
   factor is asked) and a public client `spa` whose one redirect URI is
   `http://127.0.0.1:PORT2/callback.html`; nothing is configured for CORS, so the app's
   origin is allowed only because a client registered it;
2. serves the app (tests/browser/spa: index.html, spa.js, and oidc-client-ts from
   node_modules) from a small HTTP server of this script at `http://127.0.0.1:PORT2`,
   another origin and another site than the issuer, and the same app from
   `http://127.0.0.1:PORT3`, an origin no client registered;
3. in Chromium, opens the app, which calls `signinRedirect()`; signs in on the issuer's
   login page with the password and allows the consent; back at the app,
   `signinRedirectCallback()` redeems the code at /token (a cross-origin POST) and, with
   `loadUserInfo`, calls /userinfo with the access token (a preflighted GET);
4. checks what the page could read: the user's claims from /userinfo; /userinfo again by
   hand; the same with `credentials: "include"`, which the browser must refuse because the
   server never sends `Access-Control-Allow-Credentials`; the JSON error of /token for a
   made-up code; `revokeTokens()` at /revoke; and then /userinfo's 401 with its
   `WWW-Authenticate` header, exposed to the page;
5. from the unregistered origin: discovery and the JWKS are readable (public), while the
   answers of /token and /userinfo are withheld by the browser.

Bounded: every browser action times out (15 s, navigations 30 s), the server must be
ready within 60 s, and a watchdog ends everything after --timeout seconds (default 180).
Exit status 0 with the line `browser: 1 passed, 0 failed`, 1 otherwise. Without CORS on
/token the sign-in fails at the token exchange, and the script says so.
"""

import argparse
import http.server
import json
import os
import re
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TAG = "spa-cors"
USERNAME = "sam"
PASSWORD = "a long passphrase for sam"
CLIENT_ID = "spa"
SPA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spa")
BUNDLE = os.path.join(SPA_DIR, "node_modules", "oidc-client-ts", "dist", "browser",
                      "oidc-client-ts.min.js")
DONE_TIMEOUT_MS = 30_000


def step(msg):
    h.log(TAG, msg)


class AppServer:
    """The app's own origin: a loopback HTTP server that serves the SPA's files. Every path
    that is not a file is the page itself, as a single-page app's server does."""

    def __init__(self, issuer):
        config = f"window.SPA_CONFIG = {json.dumps({'issuer': issuer, 'clientId': CLIENT_ID})};\n"
        files = {
            "/config.js": ("text/javascript", config.encode()),
            "/spa.js": ("text/javascript", read(os.path.join(SPA_DIR, "spa.js"))),
            "/oidc-client-ts.min.js": ("text/javascript", read(BUNDLE)),
        }
        page = ("text/html; charset=utf-8", read(os.path.join(SPA_DIR, "index.html")))
        self.paths = paths = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                paths.append(path)
                kind, body = files.get(path, page)
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def wait_done(tab, what):
    """The page sets data-done on <body> when it has written its result."""
    try:
        tab.page.wait_for_selector("body[data-done=yes]", state="attached",
                                   timeout=DONE_TIMEOUT_MS)
    except Exception as err:  # noqa: BLE001 - reported with what the page shows
        raise AssertionError(f"{what}: the page did not finish ({err}); it shows "
                             f"{tab.page.inner_text('body')[:400]!r}") from err
    return tab.page.evaluate("window.spaResult")


def requests_seen(server, method, path):
    """Statuses of the server's answers to `method path`, from its access log: what the
    browser really sent, preflights included, which the page cannot see."""
    with open(os.path.join(server.tmp, "server.log"), encoding="utf-8", errors="replace") as f:
        # The request span's fields end at the path: `}` or, since issue 23, ` otel.kind=...`.
        span = re.compile(rf"method={re.escape(method)} path={re.escape(path)}[ }}]")
        return [int(m.group(1)) for line in f
                if span.search(line)
                for m in [re.search(r" status=(\d+)", line)] if m]


def requests_settled(server, method, path, at_least, timeout=5.0):
    """`requests_seen` once the log holds at least `at_least` such answers (or the time is
    up): the server writes its access-log line after the answer has left, so a page that
    has its answer can be ahead of the log by a few milliseconds."""
    deadline = time.monotonic() + timeout
    while True:
        seen = requests_seen(server, method, path)
        if len(seen) >= at_least or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def notes(tab):
    """What the browser said on the way. Refused cross-origin reads show up as console
    errors and failed requests: some are the point of a check, so they are printed, not
    counted; a script error fails the test."""
    for line in dict.fromkeys(tab.messages + tab.notes):
        step(f"browser: {line}")
    bad = [m for m in tab.messages if m.startswith("page error")]
    if bad:
        raise AssertionError("the browser reported:\n  " + "\n  ".join(bad))


def expect(cond, what, seen):
    if not cond:
        raise AssertionError(f"{what}; the page saw {json.dumps(seen)[:600]}")


def sign_in(server, app, browser):
    tab = h.Tab(browser, server, intercept=False)
    try:
        step(f"open the app at {app.origin} and sign in at {server.issuer}")
        tab.goto(f"{app.origin}/?start")
        tab.page.wait_for_url(f"{server.issuer}/login**", wait_until="load")
        tab.sign_in_password(USERNAME, PASSWORD)
        if tab.path() == "/consent":
            tab.submit("button[name=decision][value=allow]")
        tab.page.wait_for_url(f"{app.origin}/callback.html**", wait_until="load")
        result = wait_done(tab, "the app's callback")
        steps = result.get("steps", {})
        signin = steps.get("signin", {})
        if "error" in signin or "error" in result:
            failed = [m for m in tab.messages if "/token" in m]
            where = ("at the token exchange (the browser withheld /token's answer from the "
                     "page)" if failed else "")
            raise AssertionError(f"oidc-client-ts could not finish the sign-in {where}: "
                                 f"{signin.get('error') or result.get('error')}")
        step(f"signed in: {json.dumps(signin)}")
        expect(signin.get("preferred_username") == USERNAME
               and signin.get("email") == "sam@example.com",
               "the user's claims from /userinfo are missing", signin)
        expect(signin.get("token_type", "").lower() == "bearer", "no bearer token", signin)

        userinfo = steps.get("userinfo", {})
        expect(userinfo.get("status") == 200 and userinfo.get("body", {}).get("sub") == signin["sub"],
               "/userinfo by hand did not answer the user", userinfo)

        with_credentials = steps.get("userinfoWithCredentials", {})
        expect("networkError" in with_credentials,
               "a credentialed request was let through (Access-Control-Allow-Credentials?)",
               with_credentials)

        bad_code = steps.get("badCode", {})
        expect(bad_code.get("status") == 400
               and bad_code.get("body", {}).get("error") == "invalid_grant",
               "the token endpoint's error was not readable", bad_code)

        expect(steps.get("revoke") == {"ok": True}, "revokeTokens() failed", steps.get("revoke"))
        after = steps.get("userinfoAfterRevoke", {})
        expect(after.get("status") == 401 and "invalid_token" in (after.get("wwwAuthenticate") or ""),
               "/userinfo with the revoked token did not show a readable 401", after)
        preflights = requests_settled(server, "OPTIONS", "/userinfo", 1)
        expect(preflights and set(preflights) == {204},
               "the browser's preflights for /userinfo were not answered 204 by the server",
               preflights)
        served = [p for p in app.paths if p in ("/", "/callback.html")]
        expect(served == ["/", "/callback.html"], "the app was not loaded as expected", app.paths)
        notes(tab)
    except Exception:
        for line in dict.fromkeys(tab.messages + tab.notes):
            step(f"browser: {line}")
        raise
    finally:
        tab.close()


def probe(server, stranger, browser):
    tab = h.Tab(browser, server, intercept=False)
    try:
        step(f"from {stranger.origin}, which no client registered")
        userinfo_before = requests_seen(server, "GET", "/userinfo")
        preflights_before = requests_seen(server, "OPTIONS", "/userinfo")
        tab.goto(f"{stranger.origin}/probe.html")
        steps = wait_done(tab, "the probe").get("steps", {})
        for name in ("discovery", "jwks"):
            expect(steps.get(name, {}).get("status") == 200, f"{name} was not readable",
                   steps.get(name))
        for name in ("token", "userinfo"):
            expect("networkError" in steps.get(name, {}),
                   f"{name}'s answer reached a page of an unregistered origin", steps.get(name))
        refused = requests_settled(server, "OPTIONS", "/userinfo",
                                   len(preflights_before) + 1)[len(preflights_before):]
        expect(refused == [403], "the server did not refuse the stranger's preflight", refused)
        expect(requests_seen(server, "GET", "/userinfo") == userinfo_before,
               "the browser sent /userinfo after a refused preflight", "")
        notes(tab)
    finally:
        tab.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=h.default_binary())
    ap.add_argument("--chromium", default=h.CHROMIUM)
    ap.add_argument("--timeout", type=float, default=180, help="seconds before giving up")
    ap.add_argument("--keep", action="store_true", help="keep the server's folder and log")
    args = ap.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("pip install -r tests/browser/requirements.txt (the browser is "
                         "Debian's chromium; never `playwright install`)")
    if not os.path.exists(BUNDLE):
        raise SystemExit(f"{BUNDLE} is missing: run `npm ci --prefix tests/browser/spa`")

    started = time.monotonic()
    watchdog = h.Watchdog(args.timeout, "browser")
    server = h.Server(args.bin, TAG)
    watchdog.servers.append(server)
    app = AppServer(server.issuer)
    stranger = AppServer(server.issuer)
    failed = False
    try:
        server.start()
        server.create_user(USERNAME, PASSWORD, email="sam@example.com", name="Sam Example")
        server.cli(["client", "create", "--name", "Example SPA", "--client-id", CLIENT_ID,
                    "--public", "--redirect-uri", f"{app.origin}/callback.html",
                    "--scope", "openid", "--scope", "profile", "--scope", "email"])
        server.serve()
        with sync_playwright() as pw:
            browser = h.launch(pw, args.chromium)
            step(f"Chromium {browser.version}, issuer {server.issuer}")
            try:
                sign_in(server, app, browser)
                probe(server, stranger, browser)
            finally:
                browser.close()
    except Exception:  # noqa: BLE001 - every failure is reported the same way
        failed = True
        traceback.print_exc()
        print(f"--- server log (last lines) ---\n{server.log_tail()}", file=sys.stderr)
    finally:
        app.close()
        stranger.close()
        server.stop(keep=args.keep or failed)
        watchdog.cancel()
    step(f"took {time.monotonic() - started:.1f} s")
    # The closing line CI tools read as a test count.
    if failed:
        print("browser: 0 passed, 1 failed")
        sys.exit(1)
    print("browser: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
