#!/usr/bin/env python3
"""Render Portcullis's pages in headless Chromium and save PNGs under docs/screenshots/,
checking each page on the way. Not run by CI; run it after changing templates/ or
static/portcullis.css (both are compiled into the binary: build first).

    python3 tests/browser/screenshots.py               # uses target/debug/portcullis
    python3 tests/browser/screenshots.py --out /tmp/shots --bin target/release/portcullis

It starts a throw-away server exactly as tests/browser/passkey_signin.py does (fresh
SQLite data, issuer http://localhost:PORT, loopback only), creates with the CLI the users
`alice`, `pat` and `sam`, two users with the role `admin` (`ada`, `grace`;
`mfa.required_roles` defaults to ["admin"], so they are led to enrol a second factor), and
a client `demo` ("Example App", openid profile email, not first-party, so the consent page
shows). Then, in a fresh browser profile per scenario, once per width, as a person would:

- alice: /authorize -> login (desktop: a wrong password first) -> consent (desktop: -> /logout);
- ada (desktop) / grace (phone): /authorize -> login -> TOTP enrolment (the code is
  computed here from the key the page shows, RFC 6238) -> recovery codes;
- pat (desktop) / sam (phone): /account -> login -> profile, password page, security page,
  setting up an authenticator app, adding a passkey with the DevTools virtual
  authenticator -> the security page with both; then in a new profile /authorize -> the
  password -> the second-factor page.

Every page is shot at a desktop width (1280x800) and a phone width (375x812), full page,
device scale factor 1 (`--phone-scale 3` for real phone pixels, at nine times the size),
and the login and consent pages once more with `prefers-color-scheme: dark`.

Checks printed for every page (exit status 1 if any finds something; the PNGs are written
anyway): the stylesheet applied, no horizontal overflow, no console error (CSP violations
show up there) or failed request, text contrast against its background (WCAG 2 AA: 4.5:1,
3:1 for large text), a focus outline of 3:1 against its surroundings on everything Tab
reaches, and Chromium's console hints about the page's forms ([DOM] notes).
"""

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TAG = "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
CLIENT_ID = "demo"
ALICE = ("alice", "correct horse battery staple")
ADMINS = {"desktop": ("ada", "Ada Lovelace"), "phone": ("grace", "Grace Hopper")}
ADMIN_PASSWORD = "an admin's long passphrase"
USERS = {"desktop": ("pat", "Pat Example"), "phone": ("sam", "Sam Example")}
PASSWORD = "a user's long passphrase"
GENERIC_ERROR = "Incorrect username or password."

# Colour arithmetic for the checks below (WCAG 2 relative luminance and contrast ratio).
COLOR_JS = r"""
  const parse = (c) => {
    // rgb()/rgba(), or color(srgb r g b / a) as color-mix() computes to.
    let m = c.match(/^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/);
    if (m) return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
    m = c.match(/^color\(srgb ([\d.]+) ([\d.]+) ([\d.]+)(?: \/ ([\d.]+))?\)$/);
    if (m) return [m[1] * 255, m[2] * 255, m[3] * 255, m[4] === undefined ? 1 : +m[4]];
    return null;
  };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const background = (el) => {
    // Composite the backgrounds from the root down to the element.
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.unshift(e);
    let bg = [255, 255, 255, 1];
    for (const e of chain) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) bg = over(c, bg);
    }
    return bg;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const contrast = (fg, bg) => {
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
  };
"""

# Facts about the page that the checks need, gathered in the page.
PAGE_FACTS_JS = r"""() => {
  const d = document.documentElement;
  const rules = [...document.styleSheets].reduce((n, s) => {
    try { return n + s.cssRules.length; } catch (e) { return n; } }, 0);
""" + COLOR_JS + r"""
  const lowContrast = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const r = el.getBoundingClientRect();
    if (!own || r.width === 0 || r.height === 0) continue;
    const s = getComputedStyle(el);
    if (s.visibility === "hidden") continue;
    const bg = background(el);
    const fgc = parse(s.color);
    if (!fgc) continue;
    const ratio = contrast(over(fgc, bg), bg);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) {
      lowContrast.push(`${el.tagName.toLowerCase()}${el.className ? "." + el.className : ""} ` +
        `"${el.textContent.trim().slice(0, 40)}" ${ratio.toFixed(2)}:1 (needs ${need}:1)`);
    }
  }
  return {
    title: document.title,
    lang: d.lang,
    cssRules: rules,
    overflowX: d.scrollWidth - d.clientWidth,
    lowContrast,
  };
}"""

# Describes the focused element, whether it shows an outline, and the outline's contrast
# against what surrounds the element (WCAG 1.4.11 asks 3:1 of a focus indicator).
FOCUS_JS = r"""() => {
""" + COLOR_JS + r"""
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
  const label = (el.id ? "#" + el.id : "") || (el.textContent || el.name || "").trim().slice(0, 30);
  const around = el.parentElement ? background(el.parentElement) : [255, 255, 255, 1];
  const oc = parse(s.outlineColor);
  const ratio = outline && oc ? contrast(over(oc, around), around) : 0;
  return { what: `${el.tagName.toLowerCase()} ${label}`, visible: outline,
           ratio: Math.round(ratio * 100) / 100,
           style: `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}` };
}"""


class Shooter:
    def __init__(self, out, problems):
        self.out = out
        self.problems = problems
        self.written = []

    def shot(self, tab, name, focus_walk=True):
        page = tab.page
        page.wait_for_load_state("load")
        facts = page.evaluate(PAGE_FACTS_JS)
        focus = self.walk_focus(tab) if focus_walk else []
        # Back to the page as it loaded (autofocus included), with no focus ring from the walk.
        path = os.path.join(self.out, name)
        page.screenshot(path=path, full_page=True)
        self.written.append(name)
        h.log(TAG, f"{name}: {os.path.getsize(path)} bytes, title {facts['title']!r}, "
                   f"{len(focus)} focus stops")
        if facts["cssRules"] == 0:
            self.problems.append(f"{name}: no stylesheet rules applied")
        if not facts["lang"]:
            self.problems.append(f"{name}: <html> has no lang")
        if facts["overflowX"] > 0:
            self.problems.append(f"{name}: horizontal overflow of {facts['overflowX']} px")
        for item in facts["lowContrast"]:
            self.problems.append(f"{name}: low contrast: {item}")
        for stop in focus:
            if not stop["visible"]:
                self.problems.append(f"{name}: no focus outline on {stop['what']} "
                                     f"(outline {stop['style']})")
            elif stop["ratio"] < 3:
                self.problems.append(f"{name}: focus outline of {stop['what']} has "
                                     f"{stop['ratio']}:1 against its surroundings (needs 3:1; "
                                     f"{stop['style']})")
        for m in tab.messages + list(dict.fromkeys(tab.notes)):
            self.problems.append(f"{name}: {m}")
        tab.messages.clear()
        tab.notes.clear()

    @staticmethod
    def walk_focus(tab, limit=25):
        """Tabs through the page from the top and reports each stop; leaves the page
        scrolled to the top with the autofocus element focused again."""
        page = tab.page
        autofocus = page.evaluate("() => document.activeElement && document.activeElement.id")
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        # A click on the page's corner moves the start of Tab navigation to the top (after
        # blur() it would stay at the element that had focus).
        page.mouse.click(1, 1)
        stops, seen = [], set()
        for _ in range(limit):
            page.keyboard.press("Tab")
            info = page.evaluate(FOCUS_JS)
            if info is None or info["what"] in seen:
                break
            seen.add(info["what"])
            stops.append(info)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        if autofocus:
            page.focus(f"#{autofocus}")
        page.evaluate("() => window.scrollTo(0, 0)")
        return stops


def enrol_code(tab, used_steps):
    secret = tab.page.inner_text("code.secret")
    if not re.fullmatch(r"[A-Z2-7 ]+=*", secret.strip()):
        raise AssertionError(f"the enrolment key {secret!r} is not base32")
    return h.fresh_totp(secret.strip(), used_steps)


def expect_path(tab, path, what):
    if tab.path() != path:
        raise AssertionError(f"{what}: expected {path}, at {tab.page.url}:\n"
                             f"{tab.page.inner_text('body')[:400]}")


def alice_pages(browser, server, shooter, kind, viewport, scale, mobile, scheme="light"):
    suffix = f"{'dark-' if scheme == 'dark' else ''}{kind}"
    tab = h.Tab(browser, server, viewport=viewport, scale=scale, mobile=mobile, scheme=scheme)
    url, *_ = server.authorize(CLIENT_ID)
    tab.goto(url)
    expect_path(tab, "/login", "/authorize")
    shooter.shot(tab, f"login-{suffix}.png")
    if kind == "desktop" and scheme == "light":
        tab.sign_in_password(ALICE[0], "not-the-password")
        if GENERIC_ERROR not in tab.page.inner_text("p.error"):
            raise AssertionError("no generic error after a wrong password")
        shooter.shot(tab, "login-error-desktop.png")
    tab.sign_in_password(*ALICE)
    expect_path(tab, "/consent", "after alice's password")
    shooter.shot(tab, f"consent-{suffix}.png")
    if kind == "desktop" and scheme == "light":
        tab.goto(f"{server.issuer}/logout")
        shooter.shot(tab, "logout-desktop.png")
    tab.close()


def admin_enrolment(browser, server, shooter, kind, viewport, scale, mobile):
    """An admin (a role in `mfa.required_roles`) with no factor signs in: TOTP enrolment,
    then the recovery codes."""
    username = ADMINS[kind][0]
    tab = h.Tab(browser, server, viewport=viewport, scale=scale, mobile=mobile)
    url, *_ = server.authorize(CLIENT_ID)
    tab.goto(url)
    tab.sign_in_password(username, ADMIN_PASSWORD)
    expect_path(tab, "/login/enrol", f"{username} (role admin, no factor) after the password")
    shooter.shot(tab, f"enrol-{kind}.png")
    tab.page.fill("#code", enrol_code(tab, set()))
    tab.submit("form[action$='/login/enrol'] button[type=submit]")
    if tab.page.locator("ul.codes li").count() != 10:
        raise AssertionError(f"expected ten recovery codes at {tab.page.url}")
    shooter.shot(tab, f"recovery-codes-{kind}.png")
    tab.close()


def account_pages(browser, server, shooter, kind, viewport, scale, mobile):
    """A user without a policy role signs in at /account, sets up an authenticator app and a
    passkey there; then, in a new profile, the password leads to the second-factor page."""
    username = USERS[kind][0]
    used_steps = set()
    tab = h.Tab(browser, server, viewport=viewport, scale=scale, mobile=mobile)
    tab.without_conditional_mediation()
    tab.add_authenticator()
    tab.goto(f"{server.issuer}/account")
    expect_path(tab, "/login", "/account without a session")
    tab.sign_in_password(username, PASSWORD)
    expect_path(tab, "/account", f"{username} after the password")
    shooter.shot(tab, f"account-{kind}.png")
    tab.goto(f"{server.issuer}/account/password")
    shooter.shot(tab, f"account-password-{kind}.png")
    tab.goto(f"{server.issuer}/account/security")
    shooter.shot(tab, f"account-security-{kind}.png")

    tab.goto(f"{server.issuer}/account/security/totp")
    shooter.shot(tab, f"account-totp-{kind}.png")
    secret = tab.page.inner_text("code.secret").strip()
    tab.page.fill("#code", enrol_code(tab, used_steps))
    tab.submit("form[action$='/account/security/totp'] button[type=submit]")
    if tab.past_recovery_codes() != 10:
        raise AssertionError("the first factor did not come with ten recovery codes")
    if tab.path() == "/login/factor":
        # The session proved a password only, and the user now has a factor: a code from
        # the next time step (the enrolment's own step is used).
        h.log(TAG, "asked for the new factor right after setting it up")
        tab.page.fill("#code", h.fresh_totp(secret, used_steps))
        tab.submit("form[action$='/login/factor'] button[type=submit]")
    expect_path(tab, "/account/security", "after setting up the app")

    tab.page.fill("#passkey-name", "This laptop" if kind == "desktop" else "This phone")
    tab.submit("form[action$='/account/security/passkeys'] button[type=submit]")
    tab.page.wait_for_selector("form[data-webauthn=create] #passkey-button", state="visible")
    shooter.shot(tab, f"account-passkey-{kind}.png")
    tab.submit("#passkey-button")
    expect_path(tab, "/account/security", "after adding the passkey")
    shooter.shot(tab, f"account-security-enrolled-{kind}.png")
    tab.close()

    # A new profile: the password, then the second factor is asked for.
    tab = h.Tab(browser, server, viewport=viewport, scale=scale, mobile=mobile)
    tab.without_conditional_mediation()
    url, *_ = server.authorize(CLIENT_ID)
    tab.goto(url)
    tab.sign_in_password(username, PASSWORD)
    expect_path(tab, "/login/factor", f"{username} after the password")
    shooter.shot(tab, f"second-factor-{kind}.png")
    tab.close()


def main():
    ap = argparse.ArgumentParser(description="Render Portcullis's pages into docs/screenshots/.")
    ap.add_argument("--bin", default=h.default_binary())
    ap.add_argument("--out", default=os.path.join(h.REPO, "docs", "screenshots"))
    ap.add_argument("--chromium", default=h.CHROMIUM)
    ap.add_argument("--phone-scale", type=float, default=1)
    ap.add_argument("--no-dark", action="store_true", help="skip the dark-scheme shots")
    ap.add_argument("--keep", action="store_true", help="keep the server's folder and log")
    ap.add_argument("--timeout", type=float, default=600, help="seconds before giving up")
    args = ap.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("pip install -r tests/browser/requirements.txt (the browser is "
                         "Debian's chromium; never `playwright install`)")
    os.makedirs(args.out, exist_ok=True)

    started = time.monotonic()
    watchdog = h.Watchdog(args.timeout, TAG)
    server = h.Server(args.bin, TAG)
    watchdog.servers.append(server)
    problems = []
    shooter = Shooter(args.out, problems)
    try:
        server.start()
        server.create_user(*ALICE, email="alice@example.com", name="Alice Example")
        for username, name in ADMINS.values():
            server.create_user(username, ADMIN_PASSWORD, roles=["admin"],
                               email=f"{username}@example.com", name=name)
        for username, name in USERS.values():
            server.create_user(username, PASSWORD, email=f"{username}@example.com", name=name)
        server.create_client(CLIENT_ID, "Example App")
        server.serve()
        with sync_playwright() as pw:
            browser = h.launch(pw, args.chromium)
            h.log(TAG, f"Chromium {browser.version}, issuer {server.issuer}")
            views = [("desktop", DESKTOP, 1, False), ("phone", PHONE, args.phone_scale, True)]
            for kind, viewport, scale, mobile in views:
                alice_pages(browser, server, shooter, kind, viewport, scale, mobile)
                admin_enrolment(browser, server, shooter, kind, viewport, scale, mobile)
                account_pages(browser, server, shooter, kind, viewport, scale, mobile)
            if not args.no_dark:
                alice_pages(browser, server, shooter, "desktop", DESKTOP, 1, False, scheme="dark")
            browser.close()
    finally:
        server.stop(keep=args.keep)
        watchdog.cancel()

    h.log(TAG, f"{len(shooter.written)} screenshots in {args.out} "
               f"({time.monotonic() - started:.0f} s)")
    if problems:
        print("Problems seen:")
        for p in problems:
            print("  - " + p)
        sys.exit(1)
    print("No problems detected by the checks.")


if __name__ == "__main__":
    main()
