#!/usr/bin/env python3
"""The official MCP TypeScript SDK (npm `@modelcontextprotocol/sdk`, pinned by
package-lock.json) on both sides of Portcullis: an MCP server built with the SDK behind the
same token check as examples/resource_server.rs (server.mjs), and the SDK's own client
with its OAuth support (client.mjs) signing a user in from nothing but the server's URL.
`.ci/run` runs it; README "Tests" and docs/security.md describe it.

    npm ci --prefix tests/mcp             # once
    python3 tests/mcp/mcp_sdk.py          # uses target/debug/portcullis

What it does, all on loopback:

1. starts `portcullis serve` (fresh SQLite, issuer http://127.0.0.1:PORT/auth) with
   registration open (`registration.mode = "open"`), `allowed_resources` the MCP server's
   URL and `allowed_scopes` `openid offline_access mcp:tools`, after creating a plain user
   (no role, so no second factor) with the CLI;
2. starts server.mjs at http://127.0.0.1:PORT2/mcp (JWKS verification with `jose`,
   audience = that URL, scope `mcp:tools`, the SDK's `requireBearerAuth`);
3. runs client.mjs: the SDK's client connects, gets 401, reads the resource metadata,
   the authorization server metadata, registers (RFC 7591), and sends the "browser" to
   /authorize; a headless sign-in follows the login and consent pages; the SDK redeems
   the code with PKCE and `resource`, reconnects with the token, lists the tools and
   calls two;
4. checks what the client reports: the order of discovery requests, the registration,
   `resource` at /authorize and the token's `aud`, `iss` in the response, the tool results.

Bounded: each child process has a deadline and a watchdog ends everything after
--timeout seconds (default 120). Prints `mcp-sdk: 1 passed, 0 failed` (exit 0) or
`mcp-sdk: 0 passed, 1 failed` (exit 1).
"""

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browser"))
import harness as h  # noqa: E402

TAG = "mcp-sdk"
USERNAME = "sam"
PASSWORD = "a long passphrase for sam"
SCOPE = "mcp:tools"


def step(msg):
    h.log(TAG, msg)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    step(f"ok: {what}")


def wait_for(url, proc, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the process exited ({proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} not ready within {seconds} s")


def run(server, node, client_timeout):
    mcp_port = h.free_port()
    resource = f"http://127.0.0.1:{mcp_port}/mcp"
    for key, value in {
        "PORTCULLIS_REGISTRATION__MODE": "open",
        "PORTCULLIS_REGISTRATION__ALLOWED_RESOURCES": resource,
        "PORTCULLIS_REGISTRATION__ALLOWED_SCOPES": f"openid, offline_access, {SCOPE}",
    }.items():
        server.env[key] = value
    server.start()
    server.create_user(USERNAME, PASSWORD)
    server.serve()
    step(f"portcullis at {server.issuer}, MCP server at {resource}")

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ISSUER": server.issuer,
           "RESOURCE": resource}
    log = open(os.path.join(server.tmp, "mcp-server.log"), "wb")
    mcp = subprocess.Popen([node, os.path.join(HERE, "server.mjs")], cwd=HERE, env=env,
                           stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                           preexec_fn=h._die_with_parent)
    try:
        wait_for(f"http://127.0.0.1:{mcp_port}/.well-known/oauth-protected-resource/mcp", mcp)
        started = time.monotonic()
        r = subprocess.run([node, os.path.join(HERE, "client.mjs")], cwd=HERE,
                           env={"PATH": env["PATH"], "SERVER": resource,
                                "USERNAME": USERNAME, "PASSWORD": PASSWORD},
                           capture_output=True, text=True, timeout=client_timeout)
        step(f"the SDK client took {time.monotonic() - started:.1f} s")
        if r.returncode != 0:
            raise AssertionError(f"the SDK client failed:\n{r.stderr.strip()[-3000:]}")
        seen = json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        mcp.terminate()
        try:
            mcp.wait(timeout=10)
        except subprocess.TimeoutExpired:
            mcp.kill()
        log.close()

    step("requests the SDK made: " + " | ".join(seen["requests"]))
    req = seen["requests"]
    check(req[0] == "POST /mcp 401", "the first call is refused with 401")
    check(req[1] == "GET /.well-known/oauth-protected-resource/mcp 200",
          "the client reads the path-aware resource metadata named in the challenge")
    check(req[2] == "GET /.well-known/oauth-authorization-server/auth 200",
          "then RFC 8414 authorization server metadata at the path-aware URL")
    check("POST /auth/register 201" in req, "it registers itself (RFC 7591)")
    registered = seen["registered"]
    check(registered["token_endpoint_auth_method"] == "none", "as a public client")
    check("POST /auth/token 200" in req, "it redeems the code at /token")
    check(seen["authorizeResource"] == resource, "/authorize names the MCP server as resource")
    check(seen["tokenAudience"] == resource, "the access token's aud is the MCP server")
    check(seen["iss"] == server.issuer, "iss in the authorization response (RFC 9207)")
    check(seen.get("consentShown") is True, "the user was asked to consent")
    check(seen["tools"] == ["echo", "whoami"], "tools/list through the token")
    whoami = seen["whoami"]
    check(whoami["client_id"] == registered["client_id"] and whoami["aud"] == resource
          and SCOPE in whoami["scopes"], "the tool sees the registered client and scope")
    check(seen["echo"] == "hi", "tools/call with arguments")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=h.default_binary())
    ap.add_argument("--node", default="node")
    ap.add_argument("--timeout", type=float, default=120, help="seconds before giving up")
    ap.add_argument("--keep", action="store_true", help="keep the server's folder and logs")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(HERE, "node_modules", "@modelcontextprotocol", "sdk")):
        raise SystemExit("run `npm ci --prefix tests/mcp` first")

    started = time.monotonic()
    watchdog = h.Watchdog(args.timeout, TAG)
    server = h.Server(args.bin, TAG)
    # Node resolves `localhost` to ::1 first, where nothing listens: name the address. The
    # issuer has a path, so the client must find RFC 8414's path-aware metadata.
    server.issuer = f"http://127.0.0.1:{server.port}/auth"
    server.env["PORTCULLIS_ISSUER"] = server.issuer
    watchdog.servers.append(server)
    failed = False
    try:
        run(server, args.node, client_timeout=max(10, args.timeout - 30))
    except Exception:  # noqa: BLE001 - every failure is reported the same way
        failed = True
        traceback.print_exc()
        print(f"--- server log (last lines) ---\n{server.log_tail()}", file=sys.stderr)
        try:
            with open(os.path.join(server.tmp, "mcp-server.log"), "rb") as f:
                print(f"--- MCP server log ---\n{f.read().decode('utf-8', 'replace')[-3000:]}",
                      file=sys.stderr)
        except OSError:
            pass
    finally:
        server.stop(keep=args.keep or failed)
        watchdog.cancel()
    step(f"took {time.monotonic() - started:.1f} s")
    if failed:
        print(f"{TAG}: 0 passed, 1 failed")
        sys.exit(1)
    print(f"{TAG}: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
