// A real OpenID Connect provider for the tests: `node provider.mjs PORT REDIRECT_URI [GROUPS]`.
// Anyone may sign in on its login page with any address; it vouches for that address, verified.
// GROUPS (optional, JSON: {"address": ["group", ...]}) gives people a `groups` claim.
import Provider from "oidc-provider";

const [port, redirect] = [Number(process.argv[2]), process.argv[3]];
const groups = JSON.parse(process.argv[4] || "{}");
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "bpo-web",
      client_secret: "test-client-secret",
      redirect_uris: [redirect],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
  cookies: { keys: ["test-cookie-key"] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const claims = { sub: id, email: id, email_verified: true, name: id, groups: groups[id] || [] };
    return { accountId: id, claims: async () => claims };
  },
});
provider.listen(port, "127.0.0.1", () => console.log(`READY ${issuer}`));
