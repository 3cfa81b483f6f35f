// The single-page app of tests/browser/spa_cors.py, on an origin other than the issuer's.
// It does what a browser app does with oidc-client-ts (authorization code + PKCE, the code
// redeemed at /token from the browser, /userinfo with the access token, /revoke), then
// probes the edges of the server's CORS rule with plain fetch. Every outcome goes into
// `window.spaResult` and the page's <pre>; the test reads it from there.
"use strict";

const config = window.SPA_CONFIG;

function manager() {
  return new oidc.UserManager({
    authority: config.issuer,
    client_id: config.clientId,
    redirect_uri: `${location.origin}/callback.html`,
    response_type: "code",
    scope: "openid profile email",
    // The library calls /userinfo itself after the token exchange, as apps configure it.
    loadUserInfo: true,
    userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
  });
}

function finish(result) {
  window.spaResult = result;
  document.getElementById("result").textContent = JSON.stringify(result, null, 2);
  document.body.dataset.done = "yes";
}

// A fetch's outcome as data: the status, headers and body the page could read, or the
// network error the browser reported (which is how a CORS refusal looks to a page).
async function outcome(url, init) {
  try {
    const response = await fetch(url, init);
    const text = await response.text();
    let body = text;
    try {
      body = JSON.parse(text);
    } catch (_) {
      // not JSON: kept as text
    }
    return {
      status: response.status,
      body,
      wwwAuthenticate: response.headers.get("WWW-Authenticate"),
    };
  } catch (err) {
    return { networkError: String(err && err.message ? err.message : err) };
  }
}

async function metadata() {
  return (await fetch(`${config.issuer}/.well-known/openid-configuration`)).json();
}

async function start() {
  await manager().signinRedirect();
}

async function callback() {
  const steps = {};
  const mgr = manager();
  let user;
  try {
    user = await mgr.signinRedirectCallback();
  } catch (err) {
    steps.signin = { error: String(err && err.message ? err.message : err) };
    return finish({ steps });
  }
  steps.signin = {
    sub: user.profile.sub,
    preferred_username: user.profile.preferred_username,
    email: user.profile.email,
    scope: user.scope,
    token_type: user.token_type,
  };
  const meta = await metadata();
  const bearer = { Authorization: `Bearer ${user.access_token}` };
  // What the library did once more by hand, reading the body.
  steps.userinfo = await outcome(meta.userinfo_endpoint, { headers: bearer });
  // With cookies asked for, the browser needs Access-Control-Allow-Credentials, which the
  // server never sends: the response must be withheld from the page.
  steps.userinfoWithCredentials = await outcome(meta.userinfo_endpoint, {
    headers: bearer,
    credentials: "include",
  });
  // An error of the token endpoint is readable, so an app can show what went wrong.
  steps.badCode = await outcome(meta.token_endpoint, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: "not-a-code",
      redirect_uri: `${location.origin}/callback.html`,
      client_id: config.clientId,
      code_verifier: "v".repeat(43),
    }),
  });
  try {
    await mgr.revokeTokens(["access_token"]);
    steps.revoke = { ok: true };
  } catch (err) {
    steps.revoke = { error: String(err && err.message ? err.message : err) };
  }
  // The revoked token's 401, with the WWW-Authenticate the server exposes to the page.
  steps.userinfoAfterRevoke = await outcome(meta.userinfo_endpoint, { headers: bearer });
  finish({ steps });
}

// On an origin no client registered: the public documents are readable, the token
// endpoint's answers are not, and a preflight for /userinfo is refused.
async function probe() {
  const steps = {};
  steps.discovery = await outcome(`${config.issuer}/.well-known/openid-configuration`);
  steps.jwks = await outcome(`${config.issuer}/jwks.json`);
  steps.token = await outcome(`${config.issuer}/token`, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: "not-a-code",
      client_id: config.clientId,
    }),
  });
  steps.userinfo = await outcome(`${config.issuer}/userinfo`, {
    headers: { Authorization: "Bearer not-a-token" },
  });
  finish({ steps });
}

const routes = { "/callback.html": callback, "/probe.html": probe };
const route = routes[location.pathname] || (location.search.includes("start") ? start : null);
if (route) {
  route().catch((err) => finish({ error: String(err && err.message ? err.message : err) }));
}
