#!/usr/bin/env python3
"""Self-service in a real browser (issue 22): headless Chromium signs up at /signup,
follows the mailed link, signs in through an authorization-code flow, resets a forgotten
password by mail and signs in with the new one; one page is shown in German. The mail goes
through real SMTP to a sink in this script. `.ci/run` runs this after the Rust suites.

    python3 tests/browser/self_service.py          # uses target/debug/portcullis
    python3 tests/browser/self_service.py --out /tmp/shots --keep

What it does, all on loopback:

1. starts an SMTP sink (aiosmtpd) on 127.0.0.1 that keeps every message it receives;
2. starts `portcullis serve` as tests/browser/passkey_signin.py does (fresh SQLite data,
   issuer http://localhost:PORT), with `registration.self_signup = true` and
   `email.backend = "smtp"` pointed at the sink (`email.smtp.tls = "none"`, plain SMTP to
   loopback, no credentials), after creating with the CLI a public client `app` whose
   redirect URI is a small HTTP server of this script;
3. in Chromium: fills /signup and submits it; waits for the sign-up mail, takes the link
   from its text/plain part, opens it (the page only asks to confirm: a GET must not spend
   the link, which is checked) and presses the button; the link is then spent;
4. runs an authorization-code flow with PKCE for `app` and signs in at /login with the new
   account; redeems the code at /token and checks the ID token (RS256 against /jwks.json,
   iss/aud/nonce/exp, `preferred_username`, `email`, `email_verified`, `amr` with `pwd`);
5. asks for a reset at /forgot-password with the username, waits for the reset mail, opens
   its link, sets a new password at /reset-password (the "password changed" mail follows,
   and the link is spent), then runs the code flow again: the old password is refused
   with the generic error, the new one signs in as the same `sub`;
6. opens /forgot-password in a profile whose locale is de-DE (Chromium then sends
   `Accept-Language: de-DE,...`): the page must be German (`<html lang="de">`, German
   words, not the English heading), and the reset mail it sends must be German too;
7. fails on any console error, page error or blocked request seen on the way.

Screenshots (desktop, 1280x800, full page) go to docs/screenshots/selfservice-*.png:
signup, signup-sent, verify, verify-done, login, forgot-password, reset-password,
reset-done, forgot-password-de. They are written as the pages are reached, so a failed run
leaves those it got to.

Bounded: every browser action times out (15 s, navigations 30 s), each mail must arrive
within 30 s, the server must be ready within 60 s, and a watchdog ends everything after
--timeout seconds (default 240). The server is stopped on every exit, and dies with this
script if it is killed. Link secrets and passwords are never printed.
Exit status 0 with the line `browser: 1 passed, 0 failed`, 1 otherwise.
"""

import argparse
import email
import email.policy
import http.client
import os
import re
import sys
import threading
import time
import traceback
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TAG = "self-service-browser"
CLIENT_ID = "app"
USERNAME = "robin"
EMAIL = "robin@example.com"
PASSWORD = "a first passphrase, long enough"
NEW_PASSWORD = "the second passphrase, after a reset"
MAIL_FROM = "Example ID <id@example.com>"
MAIL_WAIT_SECONDS = 30
LOGIN_FAILED = "Incorrect username or password."
DESKTOP = {"width": 1280, "height": 800}


def step(msg):
    h.log(TAG, msg)


# --- the SMTP sink --------------------------------------------------------------------------

class MailSink:
    """An SMTP server on loopback (aiosmtpd, in its own thread) that keeps every message."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []  # (envelope sender, recipients, parsed message)
        self.cond = threading.Condition()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                raw = envelope.original_content or envelope.content
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                with sink.cond:
                    sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
                    sink.cond.notify_all()
                return "250 Message accepted for delivery"

        self.port = h.free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     ready_timeout=10, enable_SMTPUTF8=True)
        self.controller.start()

    def count(self):
        with self.cond:
            return len(self.messages)

    def wait(self, after, to, subject, what):
        """The first message since index `after` to `to` whose subject is `subject`; waits
        at most MAIL_WAIT_SECONDS."""
        deadline = time.monotonic() + MAIL_WAIT_SECONDS
        with self.cond:
            while True:
                for sender, rcpts, msg in self.messages[after:]:
                    if to in rcpts and str(msg["Subject"]) == subject:
                        if sender != "id@example.com":
                            raise AssertionError(f"{what}: envelope sender {sender!r}")
                        if str(msg["From"]) != MAIL_FROM:
                            raise AssertionError(f"{what}: From is {msg['From']!r}")
                        if str(msg["To"]) != to:
                            raise AssertionError(f"{what}: To is {msg['To']!r}")
                        return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(r, str(m["Subject"])) for _, r, m in self.messages[after:]]
                    raise AssertionError(f"{what}: no mail to {to} with the subject {subject!r} "
                                         f"within {MAIL_WAIT_SECONDS} s (received: {seen})")
                self.cond.wait(left)

    def stop(self):
        self.controller.stop()


def link_in(msg, issuer, route, what):
    """The one link to `issuer + route` in the text/plain part (also in the HTML part)."""
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    if plain is None or html is None:
        raise AssertionError(f"{what}: expected a text/plain and a text/html part")
    pattern = re.escape(issuer + route) + r"\?token=[A-Za-z0-9_\-]+"
    links = set(re.findall(pattern, plain.get_content()))
    if len(links) != 1:
        raise AssertionError(f"{what}: expected one {route} link in the text part, found "
                             f"{len(links)}")
    link = links.pop()
    if link not in html.get_content():
        raise AssertionError(f"{what}: the HTML part lacks the text part's link")
    return link


def status_of(server, url):
    """The status of a GET of `url` (below the issuer), outside the browser."""
    parts = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    c.request("GET", f"{parts.path}?{parts.query}", headers={"Host": f"localhost:{server.port}"})
    r = c.getresponse()
    r.read()
    return r.status


# --- the browser ----------------------------------------------------------------------------

class Localised:
    """A browser whose new contexts have another locale (h.Tab makes en-US ones): Chromium
    then sends that language first in Accept-Language, as a person's browser would."""

    def __init__(self, browser, locale):
        self.browser, self.locale = browser, locale

    def new_context(self, **kwargs):
        return self.browser.new_context(**{**kwargs, "locale": self.locale})


class Shots:
    def __init__(self, out):
        self.out = out
        self.written = []

    def take(self, tab, name):
        tab.page.wait_for_load_state("load")
        path = os.path.join(self.out, f"selfservice-{name}-desktop.png")
        tab.page.screenshot(path=path, full_page=True)
        self.written.append(path)
        step(f"screenshot {os.path.relpath(path, h.REPO)} ({os.path.getsize(path)} bytes)")


def redacted(url):
    """A URL fit to print: a link's secret left out."""
    return re.sub(r"token=[^&]*", "token=...", url)


def expect_path(tab, path, what):
    if tab.path() != path:
        body = tab.page.inner_text("body")[:400] if tab.page.url.startswith("http") else ""
        raise AssertionError(f"{what}: expected {path}, at {redacted(tab.page.url)}\n{body}")


def expect_text(tab, text, what):
    body = tab.page.inner_text("body")
    if text not in body:
        raise AssertionError(f"{what}: the page lacks {text!r}:\n{body[:600]}")


def report(tab):
    for note in dict.fromkeys(tab.notes):
        step(f"note from the browser: {note}")
    if tab.messages:
        raise AssertionError("the browser reported:\n  " + "\n  ".join(tab.messages))


def allow_consent(tab):
    if tab.path() == "/consent":
        tab.submit("button[name=decision][value=allow]")


def check_tokens(server, tab, state, verifier, nonce):
    """The browser is at the client with a code: redeem it and check the ID token of a
    password sign-in by the signed-up account."""
    if tab.page.url.split("?")[0] != server.callback.uri:
        raise AssertionError(f"the browser is at {tab.page.url}, not at the client")
    code = server.callback.code(state)
    tokens = server.redeem(CLIENT_ID, code, verifier)
    claims = server.verify_id_token(tokens["id_token"], CLIENT_ID, nonce)
    step(f"ID token: sub={claims.get('sub')} preferred_username="
         f"{claims.get('preferred_username')} email_verified={claims.get('email_verified')} "
         f"amr={claims.get('amr')}")
    problems = []
    if claims.get("preferred_username") != USERNAME:
        problems.append(f"preferred_username {claims.get('preferred_username')!r}")
    if claims.get("email") != EMAIL:
        problems.append(f"email {claims.get('email')!r}")
    if claims.get("email_verified") is not True:
        problems.append(f"email_verified {claims.get('email_verified')!r} (the link proved it)")
    if "pwd" not in (claims.get("amr") or []):
        problems.append(f"amr {claims.get('amr')!r} lacks pwd")
    if problems:
        raise AssertionError("ID token: " + "; ".join(problems))
    return claims


def sign_up(server, browser, sink, shots):
    issuer = server.issuer
    tab = h.Tab(browser, server, viewport=DESKTOP)
    step("sign up at /signup")
    tab.goto(f"{issuer}/signup")
    expect_path(tab, "/signup", "/signup")
    tab.page.fill("#username", USERNAME)
    tab.page.fill("#email", EMAIL)
    tab.page.fill("#password", PASSWORD)
    tab.page.fill("#confirm_password", PASSWORD)
    shots.take(tab, "signup")
    before = sink.count()
    tab.submit("form[action$='/signup'] button[type=submit]")
    expect_text(tab, "We have sent a link", "after signing up")
    shots.take(tab, "signup-sent")

    msg = sink.wait(before, EMAIL, "Finish creating your account", "the sign-up mail")
    link = link_in(msg, issuer, "/verify-email", "the sign-up mail")
    step("the sign-up mail arrived with a /verify-email link; opening it")
    tab.goto(link)
    expect_path(tab, "/verify-email", "the sign-up link")
    expect_text(tab, "Finish creating your account", "the sign-up link's page")
    shots.take(tab, "verify")
    # Opening the link (as a mail scanner would) must not spend it: only the POST does.
    if status_of(server, link) != 200:
        raise AssertionError("the sign-up link stopped working after a GET")
    tab.submit("form[action$='/verify-email'] button[type=submit]")
    expect_text(tab, "Your account is ready", "after confirming")
    shots.take(tab, "verify-done")
    if status_of(server, link) != 400:
        raise AssertionError("the sign-up link still works after it was used")
    report(tab)
    tab.close()


def sign_in(server, browser, password, shots=None, refused=None):
    """The code flow in a fresh profile, signing in with `password` (after `refused`, a
    password that must fail, when given); returns the ID token's claims."""
    tab = h.Tab(browser, server, viewport=DESKTOP)
    url, verifier, state, nonce = server.authorize(CLIENT_ID)
    tab.goto(url)
    expect_path(tab, "/login", "/authorize without a session")
    for route in ("/signup", "/forgot-password"):
        if tab.page.locator(f"a[href$='{route}']").count() != 1:
            raise AssertionError(f"/login has no link to {route}")
    if shots:
        tab.page.fill("#username", USERNAME)
        shots.take(tab, "login")
    if refused:
        tab.sign_in_password(USERNAME, refused)
        expect_path(tab, "/login", "after the old password")
        if LOGIN_FAILED not in tab.page.inner_text("p.error"):
            raise AssertionError("the old password did not get the generic error")
        step("the old password is refused")
    tab.sign_in_password(USERNAME, password)
    allow_consent(tab)
    claims = check_tokens(server, tab, state, verifier, nonce)
    report(tab)
    tab.close()
    return claims


def reset_password(server, browser, sink, shots):
    issuer = server.issuer
    tab = h.Tab(browser, server, viewport=DESKTOP)
    step("ask for a reset at /forgot-password")
    tab.goto(f"{issuer}/forgot-password")
    tab.page.fill("#login", USERNAME)
    shots.take(tab, "forgot-password")
    before = sink.count()
    tab.submit("form[action$='/forgot-password'] button[type=submit]")
    expect_text(tab, "If an account matches", "after asking for a reset")

    msg = sink.wait(before, EMAIL, "Reset your password", "the reset mail")
    link = link_in(msg, issuer, "/reset-password", "the reset mail")
    step("the reset mail arrived with a /reset-password link; opening it")
    tab.goto(link)
    expect_path(tab, "/reset-password", "the reset link")
    tab.page.fill("#new_password", NEW_PASSWORD)
    tab.page.fill("#confirm_password", NEW_PASSWORD)
    shots.take(tab, "reset-password")
    before = sink.count()
    tab.submit("form[action$='/reset-password'] button[type=submit]")
    expect_text(tab, "Your password was changed", "after setting the new password")
    shots.take(tab, "reset-done")
    sink.wait(before, EMAIL, "Your password was changed", "the password-changed mail")
    step("the password-changed mail arrived")
    if status_of(server, link) != 400:
        raise AssertionError("the reset link still works after it was used")
    report(tab)
    tab.close()


def german_page(server, browser, sink, shots):
    """/forgot-password for a browser that prefers German, and the mail it sends."""
    tab = h.Tab(Localised(browser, "de-DE"), server, viewport=DESKTOP)
    step("/forgot-password in a de-DE browser")
    tab.goto(f"{server.issuer}/forgot-password")
    expect_path(tab, "/forgot-password", "/forgot-password (de-DE)")
    shots.take(tab, "forgot-password-de")
    problems = []
    lang = tab.page.get_attribute("html", "lang") or ""
    if lang.split("-")[0].lower() != "de":
        problems.append(f'<html lang="{lang}">, expected "de"')
    text = tab.page.inner_text("body")
    if "Passwort" not in text:
        problems.append("no German word (\"Passwort\") on the page")
    if "Forgot your password" in text:
        problems.append("the English heading \"Forgot your password?\" is on the page")
    step(f'lang="{lang}", heading {tab.page.inner_text("h1")!r}')

    # The mail follows the browser's language too.
    tab.page.fill("#login", USERNAME)
    before = sink.count()
    tab.submit("form[action$='/forgot-password'] button[type=submit]")
    msg = sink.wait(before, EMAIL, "Passwort zurücksetzen", "the reset mail in German")
    link_in(msg, server.issuer, "/reset-password", "the reset mail in German")
    step("the reset mail came in German")
    report(tab)
    tab.close()
    if problems:
        raise AssertionError("the German page: " + "; ".join(problems))


def run(server, browser, sink, shots):
    sign_up(server, browser, sink, shots)
    step("authorization code flow: sign in with the new account")
    first = sign_in(server, browser, PASSWORD, shots=shots)
    reset_password(server, browser, sink, shots)
    step("authorization code flow: the old password, then the new one")
    second = sign_in(server, browser, NEW_PASSWORD, refused=PASSWORD)
    if second.get("sub") != first.get("sub"):
        raise AssertionError("the sign-ins before and after the reset name different users")
    german_page(server, browser, sink, shots)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=h.default_binary())
    ap.add_argument("--chromium", default=h.CHROMIUM)
    ap.add_argument("--out", default=os.path.join(h.REPO, "docs", "screenshots"))
    ap.add_argument("--timeout", type=float, default=240, help="seconds before giving up")
    ap.add_argument("--keep", action="store_true", help="keep the server's folder and log")
    args = ap.parse_args()
    try:
        from playwright.sync_api import sync_playwright
        import aiosmtpd  # noqa: F401
    except ImportError:
        raise SystemExit("pip install -r tests/browser/requirements.txt (the browser is "
                         "Debian's chromium; never `playwright install`)")
    os.makedirs(args.out, exist_ok=True)

    started = time.monotonic()
    watchdog = h.Watchdog(args.timeout, "browser")
    sink = MailSink()
    step(f"SMTP sink on 127.0.0.1:{sink.port}")
    server = h.Server(args.bin, TAG, extra_env={
        "PORTCULLIS_REGISTRATION__SELF_SIGNUP": "true",
        "PORTCULLIS_EMAIL__BACKEND": "smtp",
        "PORTCULLIS_EMAIL__FROM": MAIL_FROM,
        "PORTCULLIS_EMAIL__POLL_INTERVAL_SECS": "1",
        "PORTCULLIS_EMAIL__SMTP__HOST": "127.0.0.1",
        "PORTCULLIS_EMAIL__SMTP__PORT": str(sink.port),
        "PORTCULLIS_EMAIL__SMTP__TLS": "none",
        "PORTCULLIS_EMAIL__SMTP__TIMEOUT_SECS": "10",
    })
    watchdog.servers.append(server)
    shots = Shots(args.out)
    failed = False
    try:
        server.start()
        server.create_client(CLIENT_ID, "Example App", public=True)
        server.serve()
        with sync_playwright() as pw:
            browser = h.launch(pw, args.chromium)
            step(f"Chromium {browser.version}, issuer {server.issuer}")
            try:
                run(server, browser, sink, shots)
            finally:
                browser.close()
    except Exception:  # noqa: BLE001 - every failure is reported the same way
        failed = True
        traceback.print_exc()
        print(f"--- server log (last lines) ---\n{server.log_tail()}", file=sys.stderr)
    finally:
        server.stop(keep=args.keep or failed)
        sink.stop()
        watchdog.cancel()
    step(f"{len(shots.written)} screenshots, {sink.count()} mails; "
         f"took {time.monotonic() - started:.1f} s")
    # The closing line CI tools read as a test count.
    if failed:
        print("browser: 0 passed, 1 failed")
        sys.exit(1)
    print("browser: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
