// Drives a real headless Chromium through single sign-on across domains that share no cookie:
// a Gatehouse OpenID provider on auth.one.test and two apps, app.two.test and wiki.three.test,
// each a relying party of it (jwt_auth session oidc). The first app sends the browser to the
// provider's login page, which brings it back to the page it asked for, signed in; the second
// app then signs it in through the provider's session, without a login form. Every response
// the browser gets is checked to be below 500, and every step leaves a screenshot.
//
// Run by integration/sso_cross_domain_test.go (TestBrowserCrossDomainSSO):
//
//   node cross_domain.mjs <provider issuer> <app URL> <wiki URL> <artifact dir>
//
// Every site is https://<name>.test:<port>; Chromium resolves *.test to 127.0.0.1
// (--host-resolver-rules) and accepts the test's self-signed certificate. GATEHOUSE_USER and
// GATEHOUSE_PASSWORD are the user's credentials, GATEHOUSE_CHROMIUM the browser.
import assert from 'node:assert/strict';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [issuer, app, wiki, artifacts] = process.argv.slice(2);
const user = process.env.GATEHOUSE_USER;
const password = process.env.GATEHOUSE_PASSWORD;
const executablePath = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';
if (!issuer || !app || !wiki || !artifacts || !user || !password) {
	console.error('usage: GATEHOUSE_USER=... GATEHOUSE_PASSWORD=... node cross_domain.mjs <issuer> <app URL> <wiki URL> <artifact dir>');
	process.exit(2);
}

let page;
let stepName = 'start';
let shots = 0;
// Every navigation response: [status, method, URL, Location].
let seen = [];

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

// chain is the responses seen since the last call, as "status METHOD origin+path" lines.
function chain() {
	const c = seen.map(([status, method, url]) => {
		const u = new URL(url);
		return `${status} ${method} ${u.origin}${u.pathname}`;
	});
	seen = [];
	return c;
}

async function run(context) {
	page = await context.newPage();
	page.on('response', (r) => {
		if (r.status() >= 500) {
			console.error(`5xx: ${r.status()} ${r.request().method()} ${r.url()}`);
			process.exitCode = 1;
		}
		if (r.request().isNavigationRequest()) {
			seen.push([r.status(), r.request().method(), r.url(), r.headers()['location'] || '']);
		}
		if (process.env.GATEHOUSE_DEBUG) {
			console.log(`< ${r.status()} ${r.request().method()} ${r.url()} ${r.headers()['location'] || ''}`);
		}
	});

	await step("the app's private page sends the browser to the provider's login page", async () => {
		const resp = await page.goto(app + '/private/page?x=1');
		assert.equal(resp.status(), 200);
		const u = new URL(page.url());
		assert.equal(u.origin + u.pathname, issuer + '/login', `landed on ${page.url()}, want the provider's login page`);
		const next = new URL(await page.locator('input[name=next]').inputValue(), issuer);
		assert.equal(next.origin + next.pathname, issuer + '/authorize/resume', `the login page's next is ${next}`);
		// The app's authorization request: its own client and callback, the code flow with PKCE.
		const authorize = new URL(seen[0][3]);
		assert.equal(authorize.origin + authorize.pathname, issuer + '/authorize');
		assert.equal(authorize.searchParams.get('client_id'), 'app');
		assert.equal(authorize.searchParams.get('redirect_uri'), app + '/oidc/callback');
		assert.equal(authorize.searchParams.get('response_type'), 'code');
		assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
		assert.deepEqual(chain(), [
			`302 GET ${app}/private/page`,
			`302 GET ${issuer}/authorize`,
			`200 GET ${issuer}/login`,
		]);
		await shot('provider-login');
	});

	await step('logging in at the provider brings the browser back to the page it asked for, signed in', async () => {
		await page.fill('input[name=username]', user);
		await page.fill('input[name=password]', password);
		const landed = page.waitForURL(app + '/private/page?x=1');
		await page.click('form[method=post] button[type=submit]');
		await landed;
		assert.equal(await body(), `app private ${user} ${user}@example.test`);
		assert.deepEqual(chain(), [
			`303 POST ${issuer}/login`,
			// A page that opens the provider's callback (the login form's form-action 'self'
			// would stop a redirect to the app), which issues the code.
			`200 GET ${issuer}/authorize/resume`,
			`302 GET ${issuer}/authorize/callback`,
			`303 GET ${app}/oidc/callback`,
			`200 GET ${app}/private/page`,
		]);
		assert.ok((await context.cookies(app)).some((c) => c.name === 'gatehouse_oidc'), 'no session cookie at the app');
		assert.ok(!(await context.cookies(wiki)).some((c) => c.name.startsWith('gatehouse')), 'the app\'s cookies reached the wiki');
		await shot('app-private');
	});

	await step("a link on the app to the wiki: the wiki signs the browser in through the provider's session, without a login form", async () => {
		await page.goto(app + '/links');
		chain();
		const landed = page.waitForURL(wiki + '/private/notes');
		await page.click('#wiki');
		await landed;
		assert.equal(await body(), `wiki private ${user} ${user}@example.test`);
		assert.deepEqual(chain(), [
			`302 GET ${wiki}/private/notes`,
			// The provider's SameSite=Strict session cookie does not come with a redirect that
			// another site's page started: a page opens the request again from the provider's site.
			`200 GET ${issuer}/authorize`,
			`302 GET ${issuer}/authorize`,
			`302 GET ${issuer}/authorize/callback`,
			`303 GET ${wiki}/oidc/callback`,
			`200 GET ${wiki}/private/notes`,
		]);
		await shot('wiki-private');
	});

	await step('both apps keep their own sessions: pages open without the provider', async () => {
		for (const u of [app + '/private/b', wiki + '/private/c']) {
			const resp = await page.goto(u);
			assert.equal(resp.status(), 200);
			assert.equal(page.url(), u);
		}
		assert.deepEqual(chain(), [`200 GET ${app}/private/b`, `200 GET ${wiki}/private/c`]);
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
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
			'--host-resolver-rules=MAP *.test 127.0.0.1'],
	});
	console.log(`chromium ${browser.version()}, node ${process.version}`);
	try {
		await run(await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 900, height: 700 } }));
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
