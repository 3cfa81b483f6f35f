// An MCP server built with the official TypeScript SDK, behind the same token check as
// examples/resource_server.rs: Portcullis' JWT access tokens (RFC 9068) verified against
// its JWKS, the audience exactly this server's URL (RFC 8707), the scope `mcp:tools`;
// RFC 9728 metadata named in every 401. Run by mcp_sdk.py:
//
//   ISSUER=http://127.0.0.1:8080 RESOURCE=http://127.0.0.1:8091/mcp node server.mjs
//
// It prints `listening` once it accepts connections.
import express from "express";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { z } from "zod";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { InvalidTokenError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import { getOAuthProtectedResourceMetadataUrl } from "@modelcontextprotocol/sdk/server/auth/router.js";

const ISSUER = process.env.ISSUER;
const RESOURCE = process.env.RESOURCE; // written exactly as clients send it as `resource=`
const SCOPE = "mcp:tools";
if (!ISSUER || !RESOURCE) throw new Error("set ISSUER and RESOURCE");
const resourceUrl = new URL(RESOURCE);

// The issuer's metadata, checked as the Rust example does: it must name the issuer asked about.
const discovery = await (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json();
if (discovery.issuer !== ISSUER) throw new Error(`discovery names ${discovery.issuer}`);
// jose caches the keys and refetches (rate-limited) on an unknown `kid`.
const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));

// The SDK's OAuthTokenVerifier: everything the example checks, mapped to AuthInfo.
const verifier = {
  async verifyAccessToken(token) {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: ISSUER,
        audience: RESOURCE, // a token for another resource (or for the issuer) is refused
        algorithms: ["RS256"],
        typ: "at+jwt", // an ID token is signed by the same keys
        clockTolerance: 30,
      }));
    } catch (err) {
      throw new InvalidTokenError(`the token is not valid here (${err.code ?? "invalid"})`);
    }
    return {
      token,
      clientId: String(payload.client_id ?? ""),
      scopes: String(payload.scope ?? "").split(" ").filter(Boolean),
      expiresAt: payload.exp,
      resource: resourceUrl,
      extra: { sub: payload.sub, aud: payload.aud },
    };
  },
};

const metadataUrl = getOAuthProtectedResourceMetadataUrl(resourceUrl);
const app = express();
app.use(express.json());

// RFC 9728: at the path-aware location, where MCP clients look first.
app.get(new URL(metadataUrl).pathname, (_req, res) => {
  res.set("Access-Control-Allow-Origin", "*").json({
    resource: RESOURCE,
    authorization_servers: [ISSUER],
    bearer_methods_supported: ["header"],
    scopes_supported: [SCOPE],
    resource_name: "Portcullis MCP test server",
  });
});

const auth = requireBearerAuth({
  verifier,
  requiredScopes: [SCOPE],
  resourceMetadataUrl: metadataUrl,
  expectedResource: resourceUrl,
});

function mcpServer() {
  const server = new McpServer({ name: "portcullis-mcp-test", version: "1.0.0" });
  server.tool("whoami", "Who the access token was issued for", {}, async (_args, extra) => ({
    content: [{
      type: "text",
      text: JSON.stringify({
        sub: extra.authInfo?.extra?.sub,
        client_id: extra.authInfo?.clientId,
        aud: extra.authInfo?.extra?.aud,
        scopes: extra.authInfo?.scopes,
      }),
    }],
  }));
  server.tool("echo", "Echoes its text", { text: z.string() }, async ({ text }) => ({
    content: [{ type: "text", text }],
  }));
  return server;
}

// Stateless Streamable HTTP: a server and transport per request.
app.post(resourceUrl.pathname, auth, async (req, res) => {
  const server = mcpServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on("close", () => {
    transport.close();
    server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
for (const method of ["get", "delete"]) {
  app[method](resourceUrl.pathname, auth, (_req, res) => {
    res.status(405).set("Allow", "POST").json({ error: "method not allowed" });
  });
}

const listener = app.listen(Number(resourceUrl.port), "127.0.0.1", () => console.log("listening"));
listener.on("error", (err) => {
  console.error(err);
  process.exit(1);
});
