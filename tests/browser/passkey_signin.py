#!/usr/bin/env python3
"""Passkeys in a real browser: headless Chromium registers a passkey on the account's
security page and signs in with it alone, through the DevTools WebAuthn virtual
authenticator. `.ci/run` runs this after the Rust test suites.

    python3 tests/browser/passkey_signin.py          # uses target/debug/portcullis
    python3 tests/browser/passkey_signin.py --bin target/release/portcullis --keep

What it does, all on loopback:

1. starts `portcullis serve` with a fresh SQLite database in a temporary folder, the
   issuer `http://localhost:PORT` (WebAuthn refuses an IP address as relying-party id,
   and Portcullis takes the RP id from the issuer's host), after creating with the CLI a
   user `pat` with a password and a public client `app` whose redirect URI is a small
   HTTP server of this script on 127.0.0.1;
2. opens Debian's /usr/bin/chromium through Playwright with a virtual authenticator
   (CTAP2, internal transport, discoverable credentials, user verification that always
   succeeds, presence simulated);
3. signs in at /account with the password, adds a passkey on /account/security (a name,
   then the page whose script calls navigator.credentials.create), checks that the page
   lists it and that the authenticator holds one discoverable credential, and signs out;
4. runs an authorization-code flow with PKCE for `app`: on /login it clicks "Sign in with
   a passkey" (navigator.credentials.get), allows the consent, and lands at the client
   with a code. In this browser the pages are told conditional mediation is unavailable,
   since headless Chromium lets the virtual authenticator answer a conditional request
   by itself, which would sign in before the click;
5. redeems the code at /token, verifies the ID token's RS256 signature against /jwks.json
   and its iss/aud/nonce/exp, and asserts `amr` holds `hwk` or `swk`, `user` and `mfa`
   (no `pwd`), and `acr` is `phr` (the phishing-resistant level);
6. does it again in a second browser profile holding a copy of the same credential, with
   conditional mediation as the page asks for it (`mediation: "conditional"`, the username
   field's `autocomplete="username webauthn"`): the virtual authenticator answers it with
   no click. Should a Chromium version stop doing that, the script clicks the button after
   10 s and says so;
7. fails on any console error, page error or blocked request seen on the way.

Bounded: every browser action times out (15 s, navigations 30 s), the server must be
ready within 60 s, and a watchdog ends everything after --timeout seconds (default 300).
The server is stopped on every exit, and dies with this script if it is killed.
Exit status 0 with the line `browser: 1 passed, 0 failed`, 1 otherwise.
"""

import argparse
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TAG = "passkey-browser"
USERNAME = "pat"
PASSWORD = "a long passphrase for pat"
CLIENT_ID = "app"
PASSKEY_NAME = "Virtual authenticator"


def step(msg):
    h.log(TAG, msg)


def expect_path(tab, path, what):
    if tab.path() != path:
        body = tab.page.inner_text("body")[:400] if tab.page.url.startswith("http") else ""
        raise AssertionError(f"{what}: expected {path}, at {tab.page.url}\n{body}")


def check_tokens(server, tab, state, verifier, nonce):
    """The browser is at the client with a code: redeem it and check the ID token of a
    passkey-only sign-in."""
    code = server.callback.code(state)
    if tab.page.url.split("?")[0] != server.callback.uri:
        raise AssertionError(f"the browser is at {tab.page.url}, not at the client")
    tokens = server.redeem(CLIENT_ID, code, verifier)
    claims = server.verify_id_token(tokens["id_token"], CLIENT_ID, nonce)
    amr, acr = claims.get("amr") or [], claims.get("acr")
    step(f"ID token: sub={claims.get('sub')} amr={amr} acr={acr}")
    missing = [m for m in ("user", "mfa") if m not in amr]
    if missing or not ({"hwk", "swk"} & set(amr)):
        raise AssertionError(f"amr {amr} lacks {missing or 'hwk/swk'}")
    if "pwd" in amr:
        raise AssertionError(f"amr {amr} names a password, but none was used")
    if acr != "phr":
        raise AssertionError(f"acr is {acr!r}, expected 'phr'")
    return claims


def authorize_at_login(server, tab):
    url, verifier, state, nonce = server.authorize(CLIENT_ID)
    tab.goto(url)
    expect_path(tab, "/login", "/authorize without a session")
    tab.page.wait_for_selector("#passkey-button", state="visible")
    autocomplete = tab.page.get_attribute("#username", "autocomplete") or ""
    if "webauthn" not in autocomplete.split():
        raise AssertionError(f"the username field's autocomplete is {autocomplete!r}")
    return verifier, state, nonce


def report(tab):
    for note in dict.fromkeys(tab.notes):
        step(f"note from the browser: {note}")
    if tab.messages:
        raise AssertionError("the browser reported:\n  " + "\n  ".join(tab.messages))


def allow_consent(tab):
    if tab.path() == "/consent":
        tab.submit("button[name=decision][value=allow]")


def run(server, browser):
    issuer = server.issuer
    # The first browser has no conditional mediation (see `without_conditional_mediation`):
    # every passkey use in it goes through a button.
    tab = h.Tab(browser, server)
    tab.without_conditional_mediation()
    tab.add_authenticator()

    step("sign in at /account with the password")
    tab.goto(f"{issuer}/account")
    expect_path(tab, "/login", "/account without a session")
    tab.sign_in_password(USERNAME, PASSWORD)
    expect_path(tab, "/account", "after the password")

    step("add a passkey on /account/security")
    tab.goto(f"{issuer}/account/security")
    tab.page.fill("#passkey-name", PASSKEY_NAME)
    tab.submit("form[action$='/account/security/passkeys'] button[type=submit]")
    tab.page.wait_for_selector("form[data-webauthn=create] #passkey-button", state="visible")
    tab.submit("#passkey-button")  # navigator.credentials.create, then the form posts
    # The first factor comes with recovery codes, shown once.
    if tab.past_recovery_codes() != 10:
        raise AssertionError("the first passkey did not come with ten recovery codes")
    if tab.path() == "/login/factor":
        # The session was signed in with a password only, and the user now has a factor.
        step("asked for the second factor: the new passkey")
        tab.page.wait_for_selector("#passkey-button", state="visible")
        tab.submit("#passkey-button")
    expect_path(tab, "/account/security", "after creating the passkey")
    if PASSKEY_NAME not in tab.page.inner_text("body"):
        raise AssertionError("the security page does not list the new passkey")
    creds = tab.credentials()
    if len(creds) != 1 or not creds[0].get("isResidentCredential"):
        raise AssertionError(f"expected one discoverable credential, the authenticator has {creds}")
    if creds[0].get("rpId") != "localhost":
        raise AssertionError(f"credential for RP id {creds[0].get('rpId')!r}, not localhost")

    step("sign out")
    tab.goto(f"{issuer}/account")
    tab.submit("form[action$='/logout'] button[type=submit]")
    tab.goto(f"{issuer}/account")
    expect_path(tab, "/login", "/account after signing out")

    step("authorization code flow: sign in with the passkey alone (the button)")
    signed = tab.credentials()[0].get("signCount", 0)
    verifier, state, nonce = authorize_at_login(server, tab)
    tab.submit("#passkey-button")  # navigator.credentials.get, then the form posts
    allow_consent(tab)
    first = check_tokens(server, tab, state, verifier, nonce)
    if tab.credentials()[0].get("signCount", 0) <= signed:
        raise AssertionError("the authenticator's signature counter did not move")
    report(tab)
    credential = tab.credentials()[0]
    tab.close()

    # A second browser, with the same passkey synced to it, and conditional mediation as
    # the page asks for it: headless, the virtual authenticator answers the username
    # field's request by itself. Whether it does is the browser's business, so if it
    # does not, the button signs in instead and the script says so.
    step("again in another browser: conditional mediation (the passkey in the username field)")
    tab = h.Tab(browser, server)
    tab.add_authenticator()
    tab.copy_credential(credential)
    url, verifier, state, nonce = server.authorize(CLIENT_ID)
    tab.goto(url)  # /login, whose script may sign in before this returns
    try:
        tab.page.wait_for_url(lambda u: not u.startswith(f"{issuer}/login"), timeout=10_000,
                              wait_until="load")
        step(f"signed in with no click, now at {tab.path()}")
    except Exception:  # noqa: BLE001 - a timeout here is the browser's choice, not a failure
        step("conditional mediation did not resolve by itself: using the button")
        tab.submit("#passkey-button")
    allow_consent(tab)
    second = check_tokens(server, tab, state, verifier, nonce)
    if second.get("sub") != first.get("sub"):
        raise AssertionError("the two sign-ins name different users")
    report(tab)
    tab.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=h.default_binary())
    ap.add_argument("--chromium", default=h.CHROMIUM)
    ap.add_argument("--timeout", type=float, default=300, help="seconds before giving up")
    ap.add_argument("--keep", action="store_true", help="keep the server's folder and log")
    args = ap.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("pip install -r tests/browser/requirements.txt (the browser is "
                         "Debian's chromium; never `playwright install`)")

    started = time.monotonic()
    watchdog = h.Watchdog(args.timeout, "browser")
    server = h.Server(args.bin, TAG)
    watchdog.servers.append(server)
    failed = False
    try:
        server.start()
        server.create_user(USERNAME, PASSWORD, email="pat@example.com", name="Pat Example")
        server.create_client(CLIENT_ID, "Example App", public=True)
        server.serve()
        with sync_playwright() as pw:
            browser = h.launch(pw, args.chromium)
            step(f"Chromium {browser.version}, issuer {server.issuer}")
            try:
                run(server, browser)
            finally:
                browser.close()
    except Exception:  # noqa: BLE001 - every failure is reported the same way
        failed = True
        traceback.print_exc()
        print(f"--- server log (last lines) ---\n{server.log_tail()}", file=sys.stderr)
    finally:
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
