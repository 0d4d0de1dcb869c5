// Drives a real headless Chromium through a Gatehouse site that logs its users in through
// another OpenID provider (oidc-provider, integration/oidcprovider/rp_provider.mjs): the
// provider's login page, back to the page first asked for, pages served without a request to
// the provider while the site's session cookie lives, a silent new login through the provider's
// session once it expired, RP-initiated logout back to the site, and, after logging out at the
// provider itself, the site's session ending within its access lifetime.
//
// Run by integration/sso_oidc_rp_test.go (TestBrowserOIDCRelyingParty):
//
//   node oidc_rp.mjs <site URL> <provider issuer> <artifact dir>
//
// with GATEHOUSE_ACCESS_TTL_MS the site's session access_ttl and optionally GATEHOUSE_CHROMIUM.
import assert from 'node:assert/strict';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [site, issuer, artifacts] = process.argv.slice(2);
const accessTTL = Number(process.env.GATEHOUSE_ACCESS_TTL_MS);
const executablePath = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';
if (!site || !issuer || !artifacts || !(accessTTL > 0)) {
	console.error('usage: GATEHOUSE_ACCESS_TTL_MS=... node oidc_rp.mjs <site URL> <provider issuer> <artifact dir>');
	process.exit(2);
}
const signedIn = 'private alice alice@example.test User alice';

let page;
let stepName = 'start';
let shots = 0;
let providerRequests = 0;

async function step(name, fn) {
	stepName = name;
	await fn();
	console.log(`ok ${name}`);
}

async function shot(name) {
	shots++;
	await page.screenshot({ path: path.join(artifacts, `${String(shots).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function body() {
	return (await page.locator('body').textContent()).trim();
}

// expectProviderLogin checks that the page is the provider's login form.
async function expectProviderLogin() {
	assert.ok(page.url().startsWith(issuer + '/interaction/'), `on ${page.url()}, want the provider's login page`);
	await page.locator('input[name=login]').waitFor();
}

// providerLogin fills the provider's login form and waits until the browser is back at want.
async function providerLogin(want) {
	await page.fill('input[name=login]', 'alice');
	await page.fill('input[name=password]', 'any');
	const landed = page.waitForURL(want);
	await page.click('button[type=submit]');
	await landed;
}

// confirmProviderLogout answers the provider's "sign out?" page with yes.
async function confirmProviderLogout(want) {
	await page.locator('button[name=logout][value=yes]').waitFor();
	await shot('provider-logout-confirm');
	const landed = want ? page.waitForURL(want) : page.waitForLoadState('load');
	await page.click('button[name=logout][value=yes]');
	await landed;
}

async function run(context) {
	page = await context.newPage();
	page.on('request', (r) => {
		if (r.url().startsWith(issuer + '/')) {
			providerRequests++;
		}
	});

	await step('a private page sends the browser to the provider, which shows its login page', async () => {
		await page.goto(site + '/private/page?x=1');
		await expectProviderLogin();
		await shot('provider-login');
	});

	await step('logging in at the provider brings the browser back to the page it asked for', async () => {
		await providerLogin(site + '/private/page?x=1');
		assert.equal(await body(), signedIn);
		await shot('private-page');
		const c = (await context.cookies(site)).find((c) => c.name === 'gatehouse_oidc');
		assert.ok(c && c.httpOnly && c.sameSite === 'Lax', `session cookie ${JSON.stringify(c)}`);
		assert.ok(!(await context.cookies(site)).some((c) => c.name.startsWith('gatehouse_oidc_flow_')), 'the flow cookie outlived the login');
	});

	await step('while the session cookie lives, pages are served without a request to the provider', async () => {
		providerRequests = 0;
		for (const p of ['/private/a', '/private/b', '/private/a']) {
			await page.goto(site + p);
			assert.equal(await body(), signedIn);
		}
		assert.equal(providerRequests, 0);
	});

	await step("after the session cookie expired, the provider's session logs the browser in again without a form", async () => {
		await page.waitForTimeout(accessTTL + 1500);
		providerRequests = 0;
		await page.goto(site + '/private/again');
		assert.equal(page.url(), site + '/private/again');
		assert.equal(await body(), signedIn);
		assert.ok(providerRequests > 0, 'no request went to the provider');
	});

	await step('logout goes to the provider and back to the site', async () => {
		await page.goto(site + '/logout-form');
		const atProvider = page.waitForURL((u) => u.href.startsWith(issuer + '/'));
		await page.click('#logout');
		await atProvider;
		await confirmProviderLogout(site + '/');
		assert.equal(await body(), 'home');
		assert.ok(!(await context.cookies(site)).some((c) => c.name === 'gatehouse_oidc'), 'the session cookie outlived the logout');
	});

	await step('after logout the private page needs a login at the provider again', async () => {
		await page.goto(site + '/private/');
		await expectProviderLogin();
		await providerLogin(site + '/private/');
		assert.equal(await body(), signedIn);
	});

	await step("logged out at the provider itself, the site's session ends within its access lifetime", async () => {
		const discovery = await (await fetch(issuer + '/.well-known/openid-configuration')).json();
		await page.goto(discovery.end_session_endpoint);
		await confirmProviderLogout(null);
		await shot('provider-logged-out');
		// The site's cookie is its own: it may live out its access_ttl...
		await page.goto(site + '/private/still');
		assert.equal(await body(), signedIn);
		// ...and no longer: then the provider has no session to log the browser in with.
		await page.waitForTimeout(accessTTL + 1500);
		await page.goto(site + '/private/');
		await expectProviderLogin();
		await shot('login-again-after-provider-logout');
	});
}

async function main() {
	await mkdir(artifacts, { recursive: true });
	for (const f of await readdir(artifacts)) {
		if (/^\d\d-.*\.png$|^failure\.png$/.test(f)) {
			await rm(path.join(artifacts, f));
		}
	}
	const browser = await chromium.launch({
		executablePath,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
	});
	console.log(`chromium ${browser.version()}, node ${process.version}`);
	try {
		await run(await browser.newContext({ viewport: { width: 900, height: 700 } }));
	} catch (err) {
		console.error(`FAIL ${stepName}\n${err.stack || err}`);
		if (page) {
			console.error(`page: ${page.url()}`);
			await page.screenshot({ path: path.join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
			console.error(`page content:\n${(await page.content().catch(() => '')).slice(0, 4000)}`);
		}
		process.exitCode = 1;
	} finally {
		await browser.close();
	}
}

await main();
