// The official TypeScript SDK's MCP client, with its OAuth support, against an MCP server
// it knows only by URL. The SDK does the discovery (RFC 9728, RFC 8414), the dynamic
// registration (RFC 7591), PKCE, `resource` and the token requests; this file provides
// what an application would: storage, and the "browser", here a headless sign-in that
// follows Portcullis' pages with fetch and a cookie jar (as a person would with a real
// browser), checking `iss` in the response (RFC 9207; the SDK leaves that to the app).
//
//   SERVER=http://127.0.0.1:8091/mcp USERNAME=sam PASSWORD=... node client.mjs
//
// Prints one JSON line with what happened, and exits 0; any failure exits 1 with the
// SDK's error.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const SERVER = new URL(process.env.SERVER);
const REDIRECT = "http://127.0.0.1:33418/callback"; // never listened on: the code is read from the redirect
const seen = { requests: [] };

// Every request the SDK makes, so the driver can check the order of discovery.
async function tracedFetch(url, init) {
  const res = await fetch(url, init);
  seen.requests.push(`${init?.method ?? "GET"} ${new URL(String(url)).pathname} ${res.status}`);
  return res;
}

class Provider {
  constructor() {
    this.state_ = crypto.randomUUID();
  }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return {
      client_name: "Portcullis SDK test client",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() { return this.state_; }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; seen.registered = info; }
  tokens() { return this.tokens_; }
  saveTokens(tokens) { this.tokens_ = tokens; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
  async redirectToAuthorization(url) {
    seen.authorizationUrl = url.href;
    this.code = await signIn(url, this.state_);
  }
}

// --- the headless browser -------------------------------------------------------------

const jar = new Map();
function remember(res) {
  for (const cookie of res.headers.getSetCookie()) {
    const [pair] = cookie.split(";");
    const at = pair.indexOf("=");
    jar.set(pair.slice(0, at).trim(), pair.slice(at + 1));
  }
}
const cookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
function hidden(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no ${name} on the page`);
  return m[1].replaceAll("&amp;", "&");
}

// Follows /authorize -> login -> consent until the redirect to our callback; the code.
async function signIn(authorizationUrl, state) {
  const issuer = new URL(authorizationUrl);
  const base = issuer.href.slice(0, issuer.href.lastIndexOf("/authorize"));
  let url = authorizationUrl.href;
  for (let i = 0; i < 8; i++) {
    if (url.startsWith(REDIRECT)) {
      const back = new URL(url);
      if (back.searchParams.get("error")) throw new Error(`authorization refused: ${url}`);
      if (back.searchParams.get("state") !== state) throw new Error("state mismatch");
      seen.iss = back.searchParams.get("iss");
      return back.searchParams.get("code");
    }
    const res = await fetch(url, { redirect: "manual", headers: { cookie: cookies() } });
    remember(res);
    if (res.status === 302 || res.status === 303) {
      url = new URL(res.headers.get("location"), url).href;
      continue;
    }
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
    const html = await res.text();
    const form = new URLSearchParams({
      request_id: hidden(html, "request_id"),
      csrf_token: hidden(html, "csrf_token"),
    });
    let route = "/consent";
    if (html.includes('name="password"')) {
      route = "/login";
      form.set("username", process.env.USERNAME);
      form.set("password", process.env.PASSWORD);
    } else {
      seen.consentShown = true;
      form.set("decision", "allow");
    }
    const post = await fetch(`${base}${route}`, {
      method: "POST",
      redirect: "manual",
      headers: {
        cookie: cookies(),
        "content-type": "application/x-www-form-urlencoded",
        // What Chromium sends from Portcullis' pages (Referrer-Policy: no-referrer).
        origin: "null",
        "sec-fetch-site": "same-origin",
      },
      body: form,
    });
    remember(post);
    if (post.status !== 303) throw new Error(`POST ${route}: ${post.status} ${await post.text()}`);
    url = new URL(post.headers.get("location"), url).href;
  }
  throw new Error("the sign-in did not finish");
}

// --- the MCP client ---------------------------------------------------------------------

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
const provider = new Provider();
const connect = async () => {
  const client = new Client({ name: "portcullis-sdk-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(SERVER, { authProvider: provider, fetch: tracedFetch });
  await client.connect(transport);
  return { client, transport };
};

try {
  // First connection: 401 -> discovery -> registration -> redirect (our headless sign-in).
  try {
    await connect();
    throw new Error("connected without authorization");
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
  }
  if (!provider.code) throw new Error("no authorization code");
  const pending = new StreamableHTTPClientTransport(SERVER, { authProvider: provider, fetch: tracedFetch });
  await pending.finishAuth(provider.code);
  seen.authorizeResource = new URL(seen.authorizationUrl).searchParams.get("resource");
  seen.tokenAudience = claims(provider.tokens().access_token).aud;
  seen.refreshTokenIssued = Boolean(provider.tokens().refresh_token);

  // Second connection: the token is sent; list and call tools.
  const { client } = await connect();
  seen.tools = (await client.listTools()).tools.map((t) => t.name).sort();
  const result = await client.callTool({ name: "whoami", arguments: {} });
  seen.whoami = JSON.parse(result.content[0].text);
  seen.echo = (await client.callTool({ name: "echo", arguments: { text: "hi" } })).content[0].text;
  await client.close();
  console.log(JSON.stringify(seen));
} catch (err) {
  console.error(`FAILED: ${err?.stack ?? err}`);
  console.error(JSON.stringify(seen));
  process.exit(1);
}
