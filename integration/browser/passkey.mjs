// Drives a real headless Chromium with a virtual authenticator (Chrome DevTools Protocol
// WebAuthn.enable and WebAuthn.addVirtualAuthenticator, through playwright-core's CDP session)
// through Gatehouse's passkeys: a signed-in user registers a passkey on the factors page, signs
// out, signs in with the passkey alone, and with the password and the passkey; real assertions sent with another challenge, to
// another origin and rp id, or twice are refused, and so is the key with its counter set back;
// a second authenticator whose credential names the same user with another key, and a third
// whose credential names nobody, are refused. The site
// must be http://localhost:<port>: an IP address is no valid relying party id.
//
// Run by integration/second_factor_browser_test.go (TestBrowserPasskey):
//
//   node passkey.mjs <site URL> <image dir> <artifact dir>
//
// with GATEHOUSE_USER and GATEHOUSE_PASSWORD in the environment (a user who may use a second
// factor and has none) and optionally GATEHOUSE_CHROMIUM. Exit status 0 when every step passed.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [site, images, artifacts] = process.argv.slice(2);
const user = process.env.GATEHOUSE_USER;
const password = process.env.GATEHOUSE_PASSWORD;
const executablePath = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';
if (!site || !images || !artifacts || !user || !password) {
	console.error('usage: GATEHOUSE_USER=... GATEHOUSE_PASSWORD=... node passkey.mjs <site URL> <image dir> <artifact dir>');
	process.exit(2);
}
assert.equal(new URL(site).hostname, 'localhost', 'the site must be on localhost (a relying party id)');
const base = '/api/token';

let page;
let stepName = 'start';

async function step(name, fn) {
	stepName = name;
	await fn();
	console.log(`ok ${name}`);
}

async function shot(name) {
	await page.screenshot({ path: path.join(images, `second-factor-${name}.png`), fullPage: true });
}

// newAuthenticatorPage opens a page in a fresh context (no cookies) with its own virtual
// authenticator: CTAP2, internal (platform), resident keys and user verification, which
// always verifies and is always present.
async function newAuthenticatorPage(browser) {
	const context = await browser.newContext({ viewport: { width: 760, height: 640 } });
	context.setDefaultTimeout(20000);
	const p = await context.newPage();
	const cdp = await context.newCDPSession(p);
	await cdp.send('WebAuthn.enable', { enableUI: false });
	const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
		options: {
			protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
			isUserVerified: true, automaticPresenceSimulation: true,
		},
	});
	page = p;
	return { p, cdp, authenticatorId };
}

function claims(jwt) {
	return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

async function sessionCookie(p, name) {
	return (await p.context().cookies(site)).find((c) => c.name === name);
}

async function signIn(p) {
	await p.fill('input[name=username]', user);
	await p.fill('input[name=password]', password);
	const landed = p.waitForNavigation();
	await p.click('form[method=post] button[type=submit]');
	await landed;
}

// passkeyLogin clicks the login page's passkey button and returns the finish step's answer.
async function passkeyLogin(p) {
	await p.locator('#passkey-login').waitFor({ state: 'visible' });
	const finished = p.waitForResponse((r) => new URL(r.url()).pathname === base + '/login/passkey/finish');
	await p.click('#passkey-login');
	return finished;
}

// p256Key is a new P-256 private key as CDP's addCredential takes it (PKCS #8, base64).
function p256Key() {
	const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
	return privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
}

async function run(browser) {
	let userHandle;
	await step('a signed-in user registers a passkey on the factors page', async () => {
		const { p, cdp, authenticatorId } = await newAuthenticatorPage(browser);
		await p.goto(site + base + '/login?next=%2Fany%2F');
		await signIn(p);
		assert.equal(new URL(p.url()).pathname, '/any/', 'the password alone signs this user in');
		await p.goto(site + base + '/factors');
		assert.equal((await p.locator('#status-passkeys').textContent()).trim(), '0 registered.');
		await p.locator('#passkey-register').waitFor({ state: 'visible' });
		const finished = p.waitForResponse((r) => new URL(r.url()).pathname === base + '/factors/passkey/finish');
		const reloaded = p.waitForNavigation();
		await p.click('#passkey-register');
		const resp = await finished;
		assert.equal(resp.status(), 200, "registration");
		await reloaded;
		assert.equal((await p.locator('#status-passkeys').textContent()).trim(), '1 registered.');
		await shot('passkeys');
		const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
		assert.equal(credentials.length, 1);
		assert.equal(credentials[0].isResidentCredential, true, 'the passkey is discoverable');
		assert.equal(credentials[0].rpId, 'localhost');
		userHandle = credentials[0].userHandle;
		assert.ok(userHandle, 'the passkey has a user handle');

		// Sign out, then sign in with the passkey alone.
		const out = p.waitForNavigation();
		await p.click('#sign-out');
		await out;
		assert.equal(await sessionCookie(p, 'gatehouse_access'), undefined, 'signed out');
		await p.goto(site + base + '/login?next=%2Fany%2F');
		await shot('login-passkey');
		const landed = p.waitForURL(site + '/any/');
		const fin = await passkeyLogin(p);
		assert.equal(fin.status(), 200, "passkey login");
		await landed;
		assert.equal((await p.locator('body').textContent()).trim(), 'any ok');
		const access = await sessionCookie(p, 'gatehouse_access');
		assert.ok(access, 'a session after the passkey');
		const c = claims(access.value);
		assert.equal(c.user_id, 3, 'the user\'s own claims');
		assert.ok(c.amr.includes('mfa') && (c.amr.includes('hwk') || c.amr.includes('swk')), `amr ${c.amr}`);
		assert.ok(!c.amr.includes('pwd'), `amr ${c.amr}`);

		const signOut = async () => {
			await p.goto(site + base + '/factors');
			const o = p.waitForNavigation();
			await p.click('#sign-out');
			await o;
		};

		// The passkey as the second factor: the password, then the code page's passkey button.
		await signOut(p);
		await p.goto(site + base + '/login?next=%2Fany%2F');
		await signIn(p);
		assert.equal(new URL(p.url()).pathname, base + '/login/verify', 'a user with a passkey is asked for it after the password');
		assert.equal(await sessionCookie(p, 'gatehouse_access'), undefined, 'no session after the password alone');
		await shot('code-or-passkey');
		const second = p.waitForURL(site + '/any/');
		const fin2 = await passkeyLogin(p);
		assert.equal(fin2.status(), 200, 'the passkey after the password');
		await second;
		const amr2 = claims((await sessionCookie(p, 'gatehouse_access')).value).amr;
		assert.ok(amr2.length === 2 && amr2[0] === 'pwd' && (amr2[1] === 'hwk' || amr2[1] === 'swk'), `amr ${amr2}`);

		// Hostile answers, made of real assertions of this authenticator: the browser's POST of
		// the assertion is caught (and aborted), and the script sends it itself.
		const capture = async () => {
			let body;
			await p.route('**' + base + '/login/passkey/finish', async (route) => {
				body = route.request().postData();
				await route.abort();
			});
			await p.goto(site + base + '/login?next=%2Fany%2F');
			await p.locator('#passkey-login').waitFor({ state: 'visible' });
			await p.click('#passkey-login');
			await p.locator('#passkey-error').waitFor({ state: 'visible' });
			await p.unroute('**' + base + '/login/passkey/finish');
			const cookie = (await p.context().cookies(site + base + '/')).find((k) => k.name === 'gatehouse_factor');
			assert.ok(body && cookie, 'captured an assertion and its challenge');
			return { body, cookie: `gatehouse_factor=${cookie.value}` };
		};
		// finish posts an assertion to the site as if the browser were at origin (its Host and
		// Origin headers), with the challenge cookie; it resolves to the status.
		const finish = (origin, cookie, body) => new Promise((resolve, reject) => {
			const u = new URL(site);
			const req = http.request({
				host: u.hostname, port: u.port, path: base + '/login/passkey/finish', method: 'POST',
				headers: { Host: new URL(origin).host, Origin: origin, Cookie: cookie, 'Content-Type': 'application/json' },
			}, (res) => {
				res.resume();
				res.on('end', () => resolve({ status: res.statusCode }));
			});
			req.on('error', reject);
			req.end(body);
		});
		await signOut(p);
		const first = await capture();
		await p.context().clearCookies();
		const other = await capture();
		// The assertion of the first ceremony with the challenge of another: wrong challenge.
		assert.equal((await finish(site, other.cookie, first.body)).status, 401, 'an assertion of another challenge');
		// The same assertion sent to the site as another origin: the same relying party id
		// (localhost) on another port; then as a sub-domain, another rp id and origin.
		const u = new URL(site);
		const otherPort = `http://localhost:${Number(u.port) === 65535 ? 1 : Number(u.port) + 1}`;
		assert.equal((await finish(otherPort, first.cookie, first.body)).status, 401, 'an assertion of another origin');
		const third = await capture();
		assert.equal((await finish(`http://app.localhost:${u.port}`, third.cookie, third.body)).status, 401,
			'an assertion of another rp id and origin');
		// One try per ceremony: the same, right assertion now finds its challenge used up.
		assert.equal((await finish(site, third.cookie, third.body)).status, 401, 'a replayed assertion');
		// A fresh ceremony with a right assertion still works (the refusals did not break the passkey).
		const fourth = await capture();
		assert.equal((await finish(site, fourth.cookie, fourth.body)).status, 200, 'a right assertion');

		// The signature counter going backwards (a cloned authenticator): the same key, put
		// back with its counter at 0, is refused.
		await p.context().clearCookies();
		const [cred] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
		assert.ok(cred.signCount >= 2, `sign count ${cred.signCount}`);
		await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: cred.credentialId });
		await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: { ...cred, signCount: 0 } });
		await p.goto(site + base + '/login?next=%2Fany%2F');
		const cloned = await passkeyLogin(p);
		assert.equal(cloned.status(), 401, 'a counter going backwards');
		await p.locator('#passkey-error').waitFor({ state: 'visible' });
		assert.equal(await sessionCookie(p, 'gatehouse_access'), undefined, 'no session');
		await p.context().close();
	});

	await step('another authenticator with a credential for the same user but another key is refused', async () => {
		const { p, cdp, authenticatorId } = await newAuthenticatorPage(browser);
		await cdp.send('WebAuthn.addCredential', {
			authenticatorId,
			credential: {
				credentialId: randomBytes(16).toString('base64'), isResidentCredential: true, rpId: 'localhost',
				privateKey: p256Key(), userHandle, signCount: 1,
			},
		});
		await p.goto(site + base + '/login?next=%2Fany%2F');
		const fin = await passkeyLogin(p);
		assert.equal(fin.status(), 401, `an unknown credential: ${await fin.text()}`);
		await p.locator('#passkey-error').waitFor({ state: 'visible' });
		assert.equal(new URL(p.url()).pathname, base + '/login');
		assert.equal(await sessionCookie(p, 'gatehouse_access'), undefined, 'no session');
		await shot('passkey-refused');
		await p.context().close();
	});

	await step('a credential that names nobody of this site is refused', async () => {
		const { p, cdp, authenticatorId } = await newAuthenticatorPage(browser);
		await cdp.send('WebAuthn.addCredential', {
			authenticatorId,
			credential: {
				credentialId: randomBytes(16).toString('base64'), isResidentCredential: true, rpId: 'localhost',
				privateKey: p256Key(), userHandle: randomBytes(32).toString('base64'), signCount: 1,
			},
		});
		await p.goto(site + base + '/login?next=%2Fany%2F');
		const fin = await passkeyLogin(p);
		assert.equal(fin.status(), 401, `a stranger's credential: ${await fin.text()}`);
		assert.equal(await sessionCookie(p, 'gatehouse_access'), undefined, 'no session');
		await p.context().close();
	});
}

await mkdir(images, { recursive: true });
await mkdir(artifacts, { recursive: true });
const browser = await chromium.launch({
	executablePath,
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
console.log(`chromium ${browser.version()}, node ${process.version}`);
try {
	await run(browser);
} catch (err) {
	console.error(`FAIL ${stepName}\n${err.stack || err}`);
	if (page) {
		console.error(`page: ${page.url()}`);
		await page.screenshot({ path: path.join(artifacts, 'passkey-failure.png'), fullPage: true }).catch(() => {});
		const html = await page.content().catch(() => '');
		console.error(`page content:\n${html.slice(0, 4000)}`);
	}
	process.exitCode = 1;
} finally {
	await browser.close();
}
