// The OpenID provider of the sign-in tests: panva's certified oidc-provider
// with its development login page (any login, any password), one public client
// for the sealdrop web app (Authorization Code + PKCE, no secret), and
// RP-initiated logout. Started by tests/src/oidc_provider.rs on 127.0.0.1.
//
//   node provider.mjs <port> <client_id> <redirect_uri>
//
// Prints "ready <issuer>" once it listens.
import Provider from 'oidc-provider';

const [port, clientId, redirectUri] = process.argv.slice(2);
if (!port || !clientId || !redirectUri) {
  console.error('usage: node provider.mjs <port> <client_id> <redirect_uri>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    token_endpoint_auth_method: 'none',
    application_type: 'web',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [redirectUri],
  }],
  // Every login is an account whose subject is the login typed in; its
  // display name says so, to show that the display claim is not the identity.
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, preferred_username: `${sub} (display)` };
      },
    };
  },
  claims: { openid: ['sub'], profile: ['preferred_username'] },
  // Put the profile claims in the ID token (the app sends only that token).
  conformIdTokenClaims: false,
  // The web app calls the token endpoint from its own origin.
  clientBasedCORS: () => true,
  cookies: { keys: ['sealdrop-test-cookie-key'] },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
