#!/usr/bin/env python3
"""Obtain COUNT fresh refresh tokens from a server, one per line on stdout, for the
`refresh` scenario of bench/run.sh (each token starts one refresh chain).

    refresh_tokens.py password BASE CLIENT_ID CLIENT_SECRET USERNAME COUNT
        Portcullis: resource owner password grant with scope "api:read offline_access"
        (the password is read from the BENCH_PASSWORD environment variable; each token
        costs one argon2 hash on the server).
    refresh_tokens.py peer-authcode BASE CLIENT_ID CLIENT_SECRET COUNT
        The reference provider (node-oidc-provider with devInteractions): authorization
        code + PKCE through its development login and consent pages, scope
        "openid offline_access api:read", resource https://rs.jwt.example.

Standard library only; every request has a 10 s timeout. Exits non-zero with a message
on stderr if any token cannot be obtained.
"""

import base64
import concurrent.futures
import hashlib
import http.cookiejar
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 10
PEER_REDIRECT_URI = "http://127.0.0.1:8080/callback"
PEER_RESOURCE = "https://rs.jwt.example"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def basic(client_id, secret):
    # RFC 6749 section 2.3.1: form-urlencode id and secret before base64.
    raw = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def token_request(base, auth, form):
    req = urllib.request.Request(
        base + "/token",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            return err.code, json.loads(body)
        except ValueError:
            return err.code, {"raw": body[:200].decode(errors="replace")}


def refresh_token_from(status, body):
    token = body.get("refresh_token") if status == 200 else None
    if not token:
        sys.exit(f"no refresh token: HTTP {status} {json.dumps(body)[:300]}")
    return token


def by_password(base, client_id, secret, username, count):
    password = os.environ.get("BENCH_PASSWORD")
    if not password:
        sys.exit("BENCH_PASSWORD is not set")
    auth = basic(client_id, secret)
    form = {
        "grant_type": "password",
        "username": username,
        "password": password,
        "scope": "api:read offline_access",
    }

    def one(_):
        return refresh_token_from(*token_request(base, auth, form))

    # A few at a time: each is one argon2 hash, and the pool has one worker per core.
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(count)))


def by_peer_authcode(base, client_id, secret, count):
    auth = basic(client_id, secret)
    tokens = []
    for _ in range(count):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

        def call(method, url, form=None):
            if not url.startswith("http"):
                url = base + url
            data = urllib.parse.urlencode(form).encode() if form is not None else None
            req = urllib.request.Request(url, data=data, method=method)
            try:
                resp = opener.open(req, timeout=TIMEOUT)
            except urllib.error.HTTPError as err:
                resp = err
            return resp.status, resp.headers.get("location"), resp.read().decode(errors="replace")

        verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        )
        query = urllib.parse.urlencode({
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": PEER_REDIRECT_URI,
            "scope": "openid offline_access api:read",
            "prompt": "consent",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": PEER_RESOURCE,
            "state": "bench",
        })
        status, location, body = call("GET", "/auth?" + query)
        # Follow redirects; answer the login page (devInteractions accepts any password)
        # and the consent page by posting their forms.
        for _step in range(12):
            if location and location.startswith(PEER_REDIRECT_URI):
                break
            if not location:
                sys.exit(f"peer authorization flow stopped at HTTP {status}: {body[:200]}")
            status, next_location, body = call("GET", location)
            if next_location:
                location = next_location
                continue
            action = re.search(r'<form[^>]*action="([^"]+)"', body)
            if status != 200 or not action:
                sys.exit(f"peer interaction page without a form (HTTP {status})")
            form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', body))
            if 'name="login"' in body:
                form.update(login="alice", password="bench")
            status, location, body = call("POST", action.group(1), form)
        else:
            sys.exit("peer authorization flow did not reach the redirect URI")
        params = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
        if "code" not in params:
            sys.exit(f"peer redirected without a code: {location[:200]}")
        tokens.append(refresh_token_from(*token_request(base, auth, {
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": PEER_REDIRECT_URI,
            "code_verifier": verifier,
            "resource": PEER_RESOURCE,
        })))
    return tokens


def main(argv):
    if len(argv) == 7 and argv[1] == "password":
        tokens = by_password(argv[2], argv[3], argv[4], argv[5], int(argv[6]))
    elif len(argv) == 6 and argv[1] == "peer-authcode":
        tokens = by_peer_authcode(argv[2], argv[3], argv[4], int(argv[5]))
    else:
        sys.exit(__doc__)
    for token in tokens:
        print(token)


if __name__ == "__main__":
    main(sys.argv)
