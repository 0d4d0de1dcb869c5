// Drives a real headless Chromium through one Gatehouse login shared by two sites under one
// domain (the issuer's session cookie_domain): a protected page of site B sends the browser to
// the one login page, on site A, and back; site A's pages then open without a second login;
// after the access cookie expired site B renews the session itself; logging out from a form on
// site B ends the session for both, and both send the browser to the login page again. Every
// step is asserted and leaves a screenshot in the artifact directory.
//
// Run by integration/sso_subdomain_test.go (TestBrowserSubdomains), which starts Caddy:
//
//   node subdomains.mjs <site A URL> <site B URL> <artifact dir>
//
// Both sites are https://<name>.home.test:<port>; Chromium resolves *.home.test to 127.0.0.1
// (--host-resolver-rules) and accepts the test's self-signed certificate. GATEHOUSE_USER and
// GATEHOUSE_PASSWORD are the user's credentials, GATEHOUSE_ACCESS_TTL_MS the issuer's
// access_ttl, GATEHOUSE_CHROMIUM the browser (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [siteA, siteB, artifacts] = process.argv.slice(2);
const user = process.env.GATEHOUSE_USER;
const password = process.env.GATEHOUSE_PASSWORD;
const accessTTL = Number(process.env.GATEHOUSE_ACCESS_TTL_MS);
const executablePath = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';
if (!siteA || !siteB || !artifacts || !user || !password || !(accessTTL > 0)) {
	console.error('usage: GATEHOUSE_USER=... GATEHOUSE_PASSWORD=... GATEHOUSE_ACCESS_TTL_MS=... node subdomains.mjs <site A> <site B> <artifact dir>');
	process.exit(2);
}
const loginPage = siteA + '/api/token/login';

let page;
let stepName = 'start';
let shots = 0;

async function step(name, fn) {
	stepName = name;
	await fn();
	console.log(`ok ${name}`);
}

async function shot(name) {
	shots++;
	await page.screenshot({ path: path.join(artifacts, `${String(shots).padStart(2, '0')}-${name}.png`), fullPage: true });
}

// body is the text of the page, trimmed.
async function body() {
	return (await page.locator('body').textContent()).trim();
}

// expectLoginPage checks that the page is site A's login page, with next as its hidden field.
async function expectLoginPage(next) {
	const u = new URL(page.url());
	assert.equal(u.origin + u.pathname, loginPage, `landed on ${page.url()}, want the login page`);
	assert.equal(await page.locator('input[name=next]').inputValue(), next);
}

async function run(context) {
	page = await context.newPage();
	if (process.env.GATEHOUSE_DEBUG) {
		page.on('response', (r) => console.log(`< ${r.status()} ${r.request().method()} ${r.url()} ${r.headers()['location'] || ''}`));
		page.on('requestfailed', (r) => console.log(`! ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
	}

	await step("site B's private page sends the browser to site A's login page, next its absolute URL", async () => {
		const resp = await page.goto(siteB + '/private/page?x=1');
		assert.equal(resp.status(), 200);
		await expectLoginPage(siteB + '/private/page?x=1');
		await shot('login-page-for-b');
	});

	await step('logging in on site A brings the browser back to site B, signed in', async () => {
		await page.fill('input[name=username]', user);
		await page.fill('input[name=password]', password);
		const landed = page.waitForURL(siteB + '/private/page?x=1');
		await page.click('form[method=post] button[type=submit]');
		await landed;
		assert.equal(await body(), `b private ${user}`);
		await shot('b-private');
	});

	await step('the session cookies are set for the whole domain, HttpOnly and Secure', async () => {
		const cookies = await context.cookies(siteB);
		for (const name of ['gatehouse_access', 'gatehouse_refresh']) {
			const c = cookies.find((c) => c.name === name);
			assert.ok(c, `no ${name} cookie for site B: ${JSON.stringify(cookies.map((c) => c.name))}`);
			assert.equal(c.domain, '.home.test');
			assert.equal(c.httpOnly, true);
			assert.equal(c.secure, true);
		}
	});

	await step("site A's private page opens without a second login", async () => {
		const resp = await page.goto(siteA + '/private/');
		assert.equal(resp.status(), 200);
		assert.equal(page.url(), siteA + '/private/');
		assert.equal(await body(), `a private ${user}`);
		await shot('a-private');
	});

	await step('after the access cookie expired, site B renews the session itself', async () => {
		await page.waitForTimeout(accessTTL + 1500);
		const resp = await page.goto(siteB + '/private/');
		assert.equal(resp.status(), 200);
		assert.equal(page.url(), siteB + '/private/');
		assert.equal(await body(), `b private ${user}`);
	});

	await step("logging out from site B's form ends the session and comes back to site B", async () => {
		await page.goto(siteB + '/logout-form');
		const landed = page.waitForURL(siteB + '/');
		await page.click('#logout');
		await landed;
		assert.equal(await body(), 'b home');
		await shot('b-after-logout');
		const names = (await context.cookies(siteA)).map((c) => c.name);
		assert.ok(!names.includes('gatehouse_access') && !names.includes('gatehouse_refresh'), `cookies left: ${names}`);
	});

	await step('both sites refuse: they send the browser to the login page again', async () => {
		await page.goto(siteB + '/private/');
		await expectLoginPage(siteB + '/private/');
		await page.goto(siteA + '/private/');
		await expectLoginPage(siteA + '/private/');
		await shot('both-refuse');
	});

	await step('a next outside the domain comes back to the login site, not the other host', async () => {
		await page.goto(loginPage + '?next=' + encodeURIComponent('https://evil.home.test.attacker.example/'));
		await expectLoginPage('/');
		await page.fill('input[name=username]', user);
		await page.fill('input[name=password]', password);
		const landed = page.waitForURL(siteA + '/');
		await page.click('form[method=post] button[type=submit]');
		await landed;
		assert.equal(await body(), 'a home');
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
			'--host-resolver-rules=MAP *.home.test 127.0.0.1'],
	});
	console.log(`chromium ${browser.version()}, node ${process.version}`);
	try {
		const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 900, height: 700 } });
		await run(context);
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
