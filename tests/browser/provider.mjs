// A real OpenID Connect provider for the tests: `node provider.mjs PORT REDIRECT_URI`.
// Anyone may sign in on its login page with any address; it vouches for that address, verified.
import Provider from "oidc-provider";

const [port, redirect] = [Number(process.argv[2]), process.argv[3]];
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
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  cookies: { keys: ["test-cookie-key"] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return { accountId: id, claims: async () => ({ sub: id, email: id, email_verified: true, name: id }) };
  },
});
provider.listen(port, "127.0.0.1", () => console.log(`READY ${issuer}`));
