// A real, certified OpenID relying party (panva's openid-client 6) against Gatehouse's OpenID
// provider, with headless Chromium doing the user's part: discovery, the authorization code
// flow with PKCE (S256), the ID token checked by openid-client (signature against the JWKS,
// iss, aud, nonce, at_hash), userinfo, refresh with rotation and reuse detection, a second
// sign-in that needs no login, RP-initiated logout, a public client, and hostile requests that
// must end on an error page with no request ever leaving for an unregistered address.
//
// Run by integration/oidc_op_test.go (TestOIDCProviderOpenIDClient):
//
//   node rp.mjs <issuer URL> <artifact dir>
//
// with GATEHOUSE_USER, GATEHOUSE_PASSWORD, GATEHOUSE_CLIENT_ID, GATEHOUSE_CLIENT_SECRET,
// GATEHOUSE_REDIRECT_URI, GATEHOUSE_LOGOUT_URI, GATEHOUSE_SPA_ID, GATEHOUSE_SPA_REDIRECT_URI in
// the environment, GATEHOUSE_APP_PORT the test's HTTPS app server, which the redirect URIs'
// hosts resolve to in Chromium (--host-resolver-rules), and optionally GATEHOUSE_CHROMIUM.
import assert from 'node:assert/strict';
import path from 'node:path';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const [issuer, artifacts] = process.argv.slice(2);
const env = (name) => {
	const v = process.env[name];
	if (!v) {
		console.error(`${name} is not set`);
		process.exit(2);
	}
	return v;
};
const user = env('GATEHOUSE_USER');
const password = env('GATEHOUSE_PASSWORD');
const clientID = env('GATEHOUSE_CLIENT_ID');
const clientSecret = env('GATEHOUSE_CLIENT_SECRET');
const redirectURI = env('GATEHOUSE_REDIRECT_URI');
const logoutURI = env('GATEHOUSE_LOGOUT_URI');
const spaID = env('GATEHOUSE_SPA_ID');
const spaRedirectURI = env('GATEHOUSE_SPA_REDIRECT_URI');
const appPort = env('GATEHOUSE_APP_PORT');
const executablePath = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';
const issuerOrigin = new URL(issuer).origin;
const registered = new Set([new URL(redirectURI).origin, new URL(spaRedirectURI).origin, new URL(logoutURI).origin, issuerOrigin]);

let stepName = 'start';
let page;
async function step(name, fn) {
	stepName = name;
	try {
		await fn();
	} catch (err) {
		console.error(`FAIL ${name}: ${err.stack || err}\narrivals: ${JSON.stringify(arrivals)}`);
		if (page && !page.isClosed()) {
			await page.screenshot({ path: path.join(artifacts, 'failed.png') }).catch(() => {});
		}
		process.exit(1);
	}
	console.log(`ok ${name}`);
}

// Every request Chromium makes, to check that none left for an address nobody registered.
const requests = [];

// The apps' hosts resolve to the test's app server (TLS, a certificate of its own).
const rules = [...registered].filter((o) => o !== issuerOrigin).map((o) => `MAP ${new URL(o).hostname} 127.0.0.1:${appPort}`).join(',');
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', `--host-resolver-rules=${rules}`] });
const context = await browser.newContext({ ignoreHTTPSErrors: true });
context.setDefaultTimeout(20000);
context.on('request', (r) => requests.push(r.url()));
if (process.env.GATEHOUSE_DEBUG) {
	context.on('response', (r) => console.log('response', r.status(), r.url(), r.headers().location || ''));
	context.on('request', (r) => console.log('request', r.url()));
	context.on('requestfailed', (r) => console.log('failed', r.url(), r.failure()?.errorText));
}
// Every arrival at an app (a top-level page on an app's host).
const arrivals = [];
const appOrigins = new Set([...registered].filter((o) => o !== issuerOrigin));
context.on('framenavigated', (frame) => {
	if (frame === frame.page().mainFrame() && appOrigins.has(new URL(frame.url()).origin)) {
		arrivals.push(frame.url());
	}
});

// signIn opens url in a page of the shared context (one browser session) and, when the login
// page shows, signs in. It returns the URL the browser arrived at in the app, and whether the
// login page was shown.
async function signIn(url, expectLogin) {
	page = await context.newPage();
	const before = arrivals.length;
	await page.goto(url);
	let sawLogin = false;
	if (new URL(page.url()).pathname.endsWith('/login')) {
		sawLogin = true;
		await page.fill('input[name=username]', user);
		await page.fill('input[name=password]', password);
		await page.click('button[type=submit]');
	}
	await page.waitForURL((u) => appOrigins.has(u.origin));
	assert.equal(await page.title(), 'app');
	assert.equal(sawLogin, expectLogin, expectLogin ? 'the login page was not shown' : 'the login page was shown to a signed-in user');
	assert.equal(arrivals.length, before + 1, 'one arrival at the app');
	await page.screenshot({ path: path.join(artifacts, `${stepName.replace(/\W+/g, '-')}.png`) });
	await page.close();
	return new URL(arrivals[arrivals.length - 1]);
}

async function expectGrantError(fn, code) {
	await assert.rejects(fn, (err) => {
		assert.equal(err.error, code, `want ${code}, got ${err.error} (${err.message})`);
		return true;
	});
}

const insecure = { execute: [client.allowInsecureRequests] };
let config;
await step('discovery', async () => {
	config = await client.discovery(new URL(issuer), clientID, undefined, client.ClientSecretBasic(clientSecret), insecure);
	const md = config.serverMetadata();
	assert.equal(md.issuer, issuer);
	assert.deepEqual(md.code_challenge_methods_supported, ['S256']);
	assert.equal(md.jwks_uri, issuer + '/jwks.json');
});

function authorizeParams(extra = {}) {
	return { redirect_uri: redirectURI, scope: 'openid profile email offline_access', ...extra };
}

let tokens;
await step('code flow with PKCE and login', async () => {
	const verifier = client.randomPKCECodeVerifier();
	const state = client.randomState();
	const nonce = client.randomNonce();
	const url = client.buildAuthorizationUrl(config, authorizeParams({
		code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, nonce,
	}));
	const back = await signIn(url.href, true);
	tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
	const claims = tokens.claims();
	assert.equal(claims.iss, issuer);
	assert.equal(claims.sub, user);
	assert.equal(claims.email, 'alice@example.com');
	assert.deepEqual(claims.groups, ['admins', 'editors']);
	assert.ok(tokens.refresh_token, 'a refresh token (offline_access)');
});

await step('userinfo', async () => {
	const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
	assert.equal(info.sub, user);
	assert.equal(info.email, 'alice@example.com');
	assert.equal(info.name, 'Alice Liddell');
	assert.deepEqual(info.groups, ['admins', 'editors']);
});

let rotated;
await step('refresh rotates', async () => {
	rotated = await client.refreshTokenGrant(config, tokens.refresh_token);
	assert.notEqual(rotated.refresh_token, tokens.refresh_token);
	assert.equal(rotated.claims().sub, user);
	const info = await client.fetchUserInfo(config, rotated.access_token, user);
	assert.equal(info.email, 'alice@example.com');
});

await step('refresh reuse revokes the grant', async () => {
	await expectGrantError(() => client.refreshTokenGrant(config, tokens.refresh_token), 'invalid_grant');
	await expectGrantError(() => client.refreshTokenGrant(config, rotated.refresh_token), 'invalid_grant');
});

let second;
await step('second sign-in without login', async () => {
	const verifier = client.randomPKCECodeVerifier();
	const state = client.randomState();
	const url = client.buildAuthorizationUrl(config, authorizeParams({
		code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state,
	}));
	const back = await signIn(url.href, false);
	second = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
	assert.equal(second.claims().sub, user);
});

await step('public client (PKCE required)', async () => {
	const spa = await client.discovery(new URL(issuer), spaID, undefined, client.None(), insecure);
	const verifier = client.randomPKCECodeVerifier();
	const state = client.randomState();
	const url = client.buildAuthorizationUrl(spa, {
		redirect_uri: spaRedirectURI, scope: 'openid profile',
		code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state,
	});
	const back = await signIn(url.href, false);
	const t = await client.authorizationCodeGrant(spa, back, { pkceCodeVerifier: verifier, expectedState: state });
	assert.deepEqual(t.claims().aud, [spaID]);
	// Without PKCE: the error goes back to the (registered) redirect URI.
	const noPKCE = client.buildAuthorizationUrl(spa, { redirect_uri: spaRedirectURI, scope: 'openid', state: 's1' });
	const errBack = await signIn(noPKCE.href, false);
	assert.equal(errBack.searchParams.get('error'), 'invalid_request');
	assert.equal(errBack.searchParams.get('state'), 's1');
	assert.equal(errBack.searchParams.get('code'), null);
});

await step('unregistered redirect shows an error page', async () => {
	page = await context.newPage();
	const before = arrivals.length;
	const bad = client.buildAuthorizationUrl(config, authorizeParams({ redirect_uri: 'https://evil.example/cb', state: 's2' }));
	const resp = await page.goto(bad.href);
	assert.equal(resp.status(), 400);
	assert.equal(new URL(page.url()).origin, issuerOrigin);
	assert.equal(arrivals.length, before, 'no arrival anywhere');
	await page.screenshot({ path: path.join(artifacts, 'unregistered-redirect.png') });
	await page.close();
});

await step('end_session signs out and returns to a registered address only', async () => {
	page = await context.newPage();
	const bad = client.buildEndSessionUrl(config, { id_token_hint: second.id_token, post_logout_redirect_uri: 'https://evil.example/bye' });
	const resp = await page.goto(bad.href);
	assert.equal(resp.status(), 400);
	await page.close();
	const url = client.buildEndSessionUrl(config, { id_token_hint: second.id_token, post_logout_redirect_uri: logoutURI, state: 'bye' });
	const before = arrivals.length;
	page = await context.newPage();
	await page.goto(url.href);
	await page.waitForURL((u) => appOrigins.has(u.origin));
	await page.close();
	assert.equal(arrivals.length, before + 1);
	assert.equal(arrivals[arrivals.length - 1], logoutURI + '?state=bye');
	await expectGrantError(() => client.refreshTokenGrant(config, second.refresh_token), 'invalid_grant');
});

await step('signed out: the next sign-in asks for the login', async () => {
	const verifier = client.randomPKCECodeVerifier();
	const state = client.randomState();
	const url = client.buildAuthorizationUrl(config, authorizeParams({
		code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state,
	}));
	const back = await signIn(url.href, true);
	const t = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
	assert.equal(t.claims().sub, user);
});

await step('no request left for an unregistered address', async () => {
	for (const u of requests) {
		assert.ok(registered.has(new URL(u).origin), `request to ${u}`);
	}
});

await browser.close();
console.log('all steps passed');
