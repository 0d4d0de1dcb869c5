// A real OpenID provider (panva's oidc-provider, pinned in package-lock.json) for Gatehouse's
// interop test, integration/oidc_provider_test.go. It is configured the way a deployment that
// protects an API with RFC 9068 JWT access tokens would be: client_credentials clients, one
// Resource Server (Resource Indicators, RFC 8707) whose access tokens are JWTs, and a web client
// that logs a user in with the authorization code flow (devInteractions) for an ID token.
//
//   node provider.mjs <port>
//
// It listens on 127.0.0.1:<port> (0: any free port), with fresh signing keys and key ids on every
// start, so a restart is a key rotation. Once it listens it prints one line,
// `listening {"issuer": ..., "port": ...}`. It exits on SIGTERM and when its stdin closes, so it
// never outlives the test that started it.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

// The Resource Server the API behind Caddy is: the resource indicator, and so the access tokens'
// aud.
const RESOURCE = 'https://api.gatehouse.test/';
const RESOURCE_SCOPE = 'api:read api:write';

// The web client the test logs in with, for an ID token (aud: its client id).
const WEB_CLIENT = { id: 'web-app', secret: 'web-app-secret', redirectUri: 'http://127.0.0.1/cb' };

// The signing keys, each with a random kid. Which JWK carries an alg matters: oidc-provider
// publishes alg only when the key is good for one algorithm (or the configuration says which), as
// other providers do, so the set has an RSA key without alg (RS256 and PS256), an EC P-256 key
// (published with ES256), and Ed25519 keys published with "EdDSA", with RFC 9864's "Ed25519",
// and without alg.
function signingKeys() {
  const kid = (label) => `${label}-${crypto.randomBytes(6).toString('hex')}`;
  const jwk = (type, options) => crypto.generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  return {
    rsa: { ...jwk('rsa', { modulusLength: 2048 }), kid: kid('rsa') },
    ec: { ...jwk('ec', { namedCurve: 'P-256' }), kid: kid('ec') },
    eddsa: { ...jwk('ed25519'), alg: 'EdDSA', kid: kid('eddsa') },
    ed25519: { ...jwk('ed25519'), alg: 'Ed25519', kid: kid('ed25519') },
    okp: { ...jwk('ed25519'), kid: kid('okp') },
  };
}

// One client_credentials client per signature (client id: which algorithm, with which key); the
// Resource Server signs a client's access tokens with that (alg, key). Their sub is the client id.
const SIGNERS = {
  'svc-rs256': { alg: 'RS256', key: 'rsa' },
  'svc-ps256': { alg: 'PS256', key: 'rsa' },
  'svc-es256': { alg: 'ES256', key: 'ec' },
  'svc-eddsa': { alg: 'EdDSA', key: 'eddsa' },
  'svc-ed25519': { alg: 'Ed25519', key: 'ed25519' },
  'svc-eddsa-anykey': { alg: 'EdDSA', key: 'okp' },
  'svc-ed25519-anykey': { alg: 'Ed25519', key: 'okp' },
};

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: node provider.mjs <port>; got ${process.argv[2]}`);
  process.exit(2);
}

const exit = () => process.exit(0);
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
process.stdin.on('end', exit);
process.stdin.on('error', exit);
process.stdin.resume();

// Listen first: the issuer is the URL of the port actually bound. A restart asks for the port
// the previous run had, which can take a moment to be free again.
const server = http.createServer();
async function listen() {
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      return server.address().port;
    } catch (err) {
      if (err.code !== 'EADDRINUSE' || attempt >= 50) {
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
const bound = await listen();
const issuer = `http://127.0.0.1:${bound}`;

const keys = signingKeys();
const provider = new Provider(issuer, {
  jwks: { keys: Object.values(keys) },
  clients: [
    ...Object.keys(SIGNERS).map((id) => ({
      client_id: id,
      client_secret: `${id}-secret`,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: RESOURCE_SCOPE,
    })),
    {
      client_id: WEB_CLIENT.id,
      client_secret: WEB_CLIENT.secret,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [WEB_CLIENT.redirectUri],
      id_token_signed_response_alg: 'RS256',
    },
  ],
  scopes: ['openid', ...RESOURCE_SCOPE.split(' ')],
  // Short lifetimes, set so that oidc-provider does not warn about its defaults.
  ttl: {
    AccessToken: 300, ClientCredentials: 300, IdToken: 300, Interaction: 300, Grant: 300, Session: 300,
  },
  // Any login is accepted by devInteractions; the account's sub is the login.
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  // The web client is first party: no consent screen, its grant is made on login.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      return ctx.oidc.provider.Grant.find(grantId);
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid');
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Only client_credentials requests name the resource; the code flow's access token stays
      // opaque (the test wants its ID token).
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo: (ctx, resourceIndicator, client) => {
        const signer = SIGNERS[client.clientId];
        if (resourceIndicator !== RESOURCE || !signer) {
          throw new Provider.errors.InvalidTarget();
        }
        return {
          scope: RESOURCE_SCOPE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: signer.alg, kid: keys[signer.key].kid } },
        };
      },
    },
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error:', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error:', err.message, err.error_description ?? ''));

server.on('request', provider.callback());
console.log(`listening ${JSON.stringify({ issuer, port: bound })}`);
