// A real OpenID Connect provider for the tests: `node provider.mjs PORT REDIRECT_URI [GROUPS]`.
// Anyone may sign in on its login page with any address; it vouches for that address, verified.
// GROUPS (optional, JSON: {"address": ["group", ...]}) gives people a `groups` claim.
// An address at unverified.example gets no `email_verified` claim (as Entra ID sends none).
// A second client, `other-app`, is registered beside `bpo-web`; both may also return to
// http://127.0.0.1:9/callback (nothing listens there: a test reads the code from the redirect).
// Token introspection (RFC 7662) is on, for confidential clients.
import Provider from "oidc-provider";

const [port, redirect] = [Number(process.argv[2]), process.argv[3]];
const groups = JSON.parse(process.argv[4] || "{}");
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "bpo-web",
      client_secret: "test-client-secret",
      redirect_uris: [redirect, "http://127.0.0.1:9/callback"],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
    {
      client_id: "other-app",
      client_secret: "other-client-secret",
      redirect_uris: ["http://127.0.0.1:9/callback"],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
  cookies: { keys: ["test-cookie-key"] },
  features: { devInteractions: { enabled: true }, introspection: { enabled: true } },
  async findAccount(ctx, id) {
    const claims = { sub: id, email: id, email_verified: true, name: id, groups: groups[id] || [] };
    if (id.endsWith("@unverified.example")) delete claims.email_verified;
    return { accountId: id, claims: async () => claims };
  },
});
provider.listen(port, "127.0.0.1", () => console.log(`READY ${issuer}`));
