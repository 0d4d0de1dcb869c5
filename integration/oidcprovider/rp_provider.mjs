// A real OpenID provider (panva's oidc-provider, pinned in package-lock.json) for the tests of
// Gatehouse as a relying party (integration/sso_oidc_rp_test.go): one confidential web client,
// the Gatehouse site, with the authorization code flow (PKCE required), devInteractions as the
// login page (any login, any password), RP-initiated logout, and ID tokens with email and name.
//
//   node rp_provider.mjs <port> <redirect URI> <post-logout redirect URI>
//
// It listens on 127.0.0.1:<port> (0: any free port) and prints one line,
// `listening {"issuer": ..., "port": ...}`. It exits on SIGTERM and when its stdin closes.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

export const CLIENT = { id: 'gatehouse-site', secret: 'gatehouse-site-secret-0123456789' };

const [portArg, redirectURI, postLogoutURI] = process.argv.slice(2);
const port = Number(portArg ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !redirectURI || !postLogoutURI) {
  console.error('usage: node rp_provider.mjs <port> <redirect URI> <post-logout redirect URI>');
  process.exit(2);
}

const exit = () => process.exit(0);
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
process.stdin.on('end', exit);
process.stdin.on('error', exit);
process.stdin.resume();

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const bound = server.address().port;
const issuer = `http://127.0.0.1:${bound}`;

const signing = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const provider = new Provider(issuer, {
  jwks: { keys: [{ ...signing, kid: `rsa-${crypto.randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' }] },
  clients: [{
    client_id: CLIENT.id,
    client_secret: CLIENT.secret,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [redirectURI],
    post_logout_redirect_uris: [postLogoutURI],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  scopes: ['openid', 'email', 'profile'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // ID token claims straight in the ID token (not only from userinfo), as most providers do
  // for the code flow's ID token when asked for the scopes.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  ttl: {
    AccessToken: 300, AuthorizationCode: 60, IdToken: 300, Interaction: 300, Grant: 600, Session: 600,
  },
  findAccount: (ctx, sub) => ({
    accountId: sub,
    claims: () => ({ sub, email: `${sub}@example.test`, email_verified: true, name: `User ${sub}` }),
  }),
  // The Gatehouse site is first party: no consent screen, its grant is made on login.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      return ctx.oidc.provider.Grant.find(grantId);
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error:', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error:', err.message, err.error_description ?? ''));
provider.on('authorization.error', (ctx, err) => console.error('authorization.error:', err.message, err.error_description ?? ''));

server.on('request', provider.callback());
console.log(`listening ${JSON.stringify({ issuer, port: bound })}`);
