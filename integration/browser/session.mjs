// Drives a real headless Chromium through Gatehouse's browser sessions, as a person would: the
// login redirect, the login form, the private page and its API call, silent renewal after the
// access cookie expires (a reload, then a POST whose body must arrive intact), logout, a replayed
// refresh cookie, a wrong password, a cross-site logout and open-redirect attempts through `next`.
// Every step is asserted and leaves a screenshot in the artifact directory.
//
// Run by integration/browser_test.go (TestBrowserSession), which starts Caddy and the app:
//
//   node session.mjs <site URL> <artifact dir> <other-site URL>
//
// with GATEHOUSE_USER and GATEHOUSE_PASSWORD in the environment (not on the command line, which
// other users of the machine can read), GATEHOUSE_USER_ID the user id the app must report,
// GATEHOUSE_ACCESS_TTL_MS the issuer's access_ttl in milliseconds and optionally
// GATEHOUSE_CHROMIUM the browser (default /usr/bin/chromium). The other site is a page of
// another origin that posts a logout form to the site. Exit status 0 when every step passed.
import assert from 'node:assert/strict';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [site, artifacts, otherSite] = process.argv.slice(2);
const user = process.env.GATEHOUSE_USER;
const password = process.env.GATEHOUSE_PASSWORD;
const userID = process.env.GATEHOUSE_USER_ID;
const accessTTL = Number(process.env.GATEHOUSE_ACCESS_TTL_MS);
const executablePath = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';
// The status of the cross-site bounce page: 200 from jwt_auth, 401 through a proxy asking
// jwt_forward_auth (GATEHOUSE_BOUNCE_STATUS), whose answer is a 2xx only to let a request through.
const bounceStatus = Number(process.env.GATEHOUSE_BOUNCE_STATUS || 200);
if (!site || !artifacts || !otherSite || !user || !password || !userID || !(accessTTL > 0)) {
	console.error('usage: GATEHOUSE_USER=... GATEHOUSE_PASSWORD=... GATEHOUSE_USER_ID=... GATEHOUSE_ACCESS_TTL_MS=... ' +
		'node session.mjs <site URL> <artifact dir> <other-site URL>');
	process.exit(2);
}

const base = '/api/token';
const loginPath = base + '/login';
const accessCookie = 'gatehouse_access';
const refreshCookie = 'gatehouse_refresh';
// Past the access lifetime by a margin: the browser drops the cookie at Max-Age, and the token's
// exp (whole seconds) is past too.
const pastExpiry = accessTTL + 1500;

let page; // the page of the current step, screenshotted on failure
let stepName = 'start';
let shots = 0;

// step runs one named step; the name is printed when it passed.
async function step(name, fn) {
	stepName = name;
	await fn();
	console.log(`ok ${name}`);
}

// shot saves a numbered screenshot of the step's page (or target): 01-<name>.png, 02-...
async function shot(name, target = page) {
	shots++;
	const file = `${String(shots).padStart(2, '0')}-${name}.png`;
	await target.screenshot({ path: path.join(artifacts, file), fullPage: true });
}

// newPage opens a page in a fresh browser context: no cookies from earlier steps.
async function newPage(browser) {
	const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
	context.setDefaultTimeout(20000);
	page = await context.newPage();
	return page;
}

// sessionCookies returns the session cookies the browser holds for the site, by name.
async function sessionCookies(p) {
	const all = await p.context().cookies(site);
	const out = {};
	for (const c of all) {
		if (c.name === accessCookie || c.name === refreshCookie) {
			out[c.name] = c;
		}
	}
	return out;
}

// expectLoginPage asserts that p shows the login page with the given next.
async function expectLoginPage(p, next) {
	const u = new URL(p.url());
	assert.equal(u.origin + u.pathname, site + loginPath, `expected the login page, at ${p.url()}`);
	assert.equal(await p.locator('form[method=post]').getAttribute('action'), loginPath);
	assert.equal(await p.locator('input[name=next]').inputValue(), next, 'the form\'s next');
	await p.locator('input[name=username]').waitFor();
	assert.equal(await p.locator('input[name=password]').getAttribute('type'), 'password');
}

// expectSignedIn asserts that p shows the private page and that the page's own fetch of
// /api/whoami/ reported the user.
async function expectSignedIn(p) {
	assert.equal(p.url(), site + '/private/', 'expected the private page');
	assert.equal(await p.locator('h1').textContent(), 'Private page');
	await p.locator('#user').filter({ hasText: `user ${userID}.` }).waitFor({ timeout: 10000 })
		.catch(async () => {
			throw new Error(`#user says ${JSON.stringify(await p.locator('#user').textContent())}, want user ${userID}`);
		});
}

// gotoUncached opens url in p as a person typing it would (a plain navigation, which may use the
// browser's HTTP cache) and fails, saying so, when the page came from the cache rather than the
// server: a private page answered from the cache after logout is readable without a session.
async function gotoUncached(p, url, when) {
	const cdp = await p.context().newCDPSession(p);
	const fromCache = new Set();
	const docs = new Map(); // requestId -> the response
	cdp.on('Network.requestServedFromCache', (e) => fromCache.add(e.requestId));
	cdp.on('Network.responseReceived', (e) => {
		if (e.response.fromDiskCache || e.response.fromPrefetchCache) {
			fromCache.add(e.requestId);
		}
		if (e.type === 'Document') {
			docs.set(e.requestId, e.response);
		}
	});
	await cdp.send('Network.enable');
	try {
		const resp = await p.goto(url);
		for (const [id, r] of docs) {
			if (fromCache.has(id)) {
				throw new Error(`GET ${new URL(r.url).pathname} ${when} was answered from the browser's HTTP cache, ` +
					`not the server: ${r.status} with headers ${JSON.stringify(r.headers)}. ` +
					'The private page stays readable without a session: its signed-in 200 had no ' +
					'Cache-Control, so the browser reuses it (heuristic freshness from Last-Modified).');
			}
		}
		return resp;
	} finally {
		await cdp.detach().catch(() => {});
	}
}

// submitLogin fills and submits the login form and returns the POST's response (the 303, or
// the page shown again) and the response the page finally landed on.
async function submitLogin(p, username, pw, beforeSubmit) {
	await p.fill('input[name=username]', username);
	await p.fill('input[name=password]', pw);
	if (beforeSubmit) {
		await beforeSubmit();
	}
	const posted = p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === loginPath);
	const landed = p.waitForNavigation();
	await p.click('form[method=post] button[type=submit]');
	return { post: await posted, landed: await landed };
}

async function run(browser) {
	await step('the public page is served without a session', async () => {
		const p = await newPage(browser);
		const resp = await p.goto(site + '/');
		assert.equal(resp.status(), 200);
		assert.equal(await p.locator('h1').textContent(), 'Gatehouse demo');
		await shot('public-page');
	});

	const p = await newPage(browser);
	await step('/private/ without a session redirects to the login page with next=/private/', async () => {
		const resp = await p.goto(site + '/private/');
		const redirect = await resp.request().redirectedFrom()?.response();
		assert.ok(redirect, 'no redirect from /private/');
		assert.equal(redirect.status(), 302);
		assert.equal(redirect.headers()['location'], loginPath + '?next=%2Fprivate%2F');
		assert.equal(redirect.headers()['cache-control'], 'no-store');
		assert.equal(resp.status(), 200);
		const h = resp.headers();
		assert.equal(h['cache-control'], 'no-store');
		assert.equal(h['x-frame-options'], 'DENY');
		assert.match(h['content-security-policy'], /default-src 'none'/);
		await expectLoginPage(p, '/private/');
		await shot('redirected-to-login');
	});

	let first;
	await step('logging in lands on /private/, whose fetch of /api/whoami/ names the user', async () => {
		const { post } = await submitLogin(p, user, password, () => shot('login-filled'));
		assert.equal(post.status(), 303);
		assert.equal(post.headers()['location'], '/private/');
		await expectSignedIn(p);
		first = await sessionCookies(p);
		const a = first[accessCookie], r = first[refreshCookie];
		assert.ok(a && r, `session cookies after login: ${Object.keys(first)}`);
		assert.deepEqual([a.httpOnly, a.sameSite, a.path], [true, 'Lax', '/'], 'access cookie attributes');
		assert.deepEqual([r.httpOnly, r.sameSite, r.path], [true, 'Strict', '/'], 'refresh cookie attributes');
		assert.equal(await p.evaluate(() => document.cookie), '', 'the session cookies must be HttpOnly');
		await shot('private-signed-in');
	});

	let second;
	await step('after the access lifetime, a reload of /private/ renews the session silently', async () => {
		await p.waitForTimeout(pastExpiry);
		assert.equal((await sessionCookies(p))[accessCookie], undefined, 'the access cookie should have expired');
		const resp = await p.reload();
		assert.equal(resp.status(), 200, 'reload status');
		assert.equal(resp.request().redirectedFrom(), null, 'the reload was redirected');
		await expectSignedIn(p);
		second = await sessionCookies(p);
		assert.ok(second[accessCookie], 'no new access cookie after renewal');
		assert.notEqual(second[accessCookie].value, first[accessCookie].value, 'the access token was not renewed');
		assert.ok(second[refreshCookie], 'no refresh cookie after renewal');
		assert.notEqual(second[refreshCookie].value, first[refreshCookie].value, 'the refresh token was not rotated');
		await shot('renewed-after-expiry');
	});

	await step('after another expiry, a POST from the page renews the session and keeps its body', async () => {
		await p.waitForTimeout(pastExpiry);
		// A clock-skewed browser may still send the expired access cookie: put it back, so this
		// renewal starts from an expired token rather than a missing one (the reload above did).
		await p.context().addCookies([{ ...second[accessCookie], expires: Math.floor(Date.now() / 1000) + 600 }]);
		const body = JSON.stringify({
			note: 'h\u00e9llo "w\u00f6rld" \u2713 <b>&amp;</b>',
			items: Array.from({ length: 300 }, (_, i) => ({ i, word: `item-${i}` })),
		});
		const got = await p.evaluate(async (b) => {
			const r = await fetch('/api/echo/', {
				method: 'POST',
				credentials: 'same-origin',
				headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
				body: b,
			});
			const text = await r.text();
			document.getElementById('user').textContent = `POST /api/echo/ answered ${r.status}: ${text.slice(0, 160)}...`;
			return { status: r.status, text };
		}, body);
		assert.equal(got.status, 200, `echo answered ${got.status}: ${got.text}`);
		const echoed = JSON.parse(got.text);
		assert.equal(echoed.user_id, userID, 'the app saw another user');
		assert.equal(echoed.body, body, 'the POST body did not arrive intact');
		const third = await sessionCookies(p);
		assert.notEqual(third[accessCookie]?.value, second[accessCookie].value, 'the access token was not renewed');
		assert.notEqual(third[refreshCookie]?.value, second[refreshCookie].value, 'the refresh token was not rotated');
		await shot('post-after-expiry');
	});

	await step('a logout form on another site is refused (403) and the session stays', async () => {
		const other = await p.context().newPage();
		const before = await sessionCookies(p);
		await other.goto(otherSite + '/logout-form');
		const posted = other.waitForResponse((r) => r.request().method() === 'POST');
		await other.click('button[type=submit]');
		const resp = await posted;
		assert.equal(resp.url(), site + base + '/logout');
		assert.equal(resp.status(), 403);
		const after = await sessionCookies(p);
		assert.equal(after[refreshCookie]?.value, before[refreshCookie].value, 'the refresh cookie changed');
		await shot('cross-site-logout-refused', other);
		await other.close();
		await p.reload();
		await expectSignedIn(p);
	});

	await step('after expiry, a link from another site opens /private/ signed in (one same-site bounce)', async () => {
		// The access cookie (Lax) is gone and the refresh cookie (Strict) is not sent with a
		// navigation started by another site: jwt_auth answers with a page that opens the URL
		// again from the site, which sends it, and the session is renewed.
		await p.waitForTimeout(pastExpiry);
		assert.equal((await sessionCookies(p))[accessCookie], undefined, 'the access cookie should have expired');
		const other = await p.context().newPage();
		const seen = [];
		other.on('response', (r) => {
			if (new URL(r.url()).pathname === '/private/') {
				seen.push(r.status());
			}
		});
		await other.goto(otherSite + '/link');
		const landed = other.waitForURL(site + '/private/');
		await other.click('#go');
		await landed;
		await other.locator('#user').filter({ hasText: `user ${userID}.` }).waitFor({ timeout: 10000 });
		assert.deepEqual(seen, [bounceStatus, 200], `responses for /private/: ${seen}, want the bounce page then the page`);
		assert.ok((await sessionCookies(other))[accessCookie], 'no access cookie after the bounce');
		await shot('cross-site-link-signed-in', other);
		await other.close();
		await p.reload();
		await expectSignedIn(p);
	});

	let lastRefresh;
	await step('"Log out" lands on the login page and clears the session cookies', async () => {
		lastRefresh = (await sessionCookies(p))[refreshCookie];
		const posted = p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === base + '/logout');
		const landed = p.waitForNavigation();
		await p.click('#logout');
		const resp = await posted;
		await landed;
		assert.equal(resp.status(), 303);
		assert.equal(resp.headers()['location'], loginPath);
		await expectLoginPage(p, '/');
		assert.deepEqual(await sessionCookies(p), {}, 'session cookies left after logout');
		await shot('logged-out');
	});

	await step('/private/ after logout redirects to the login page again', async () => {
		await gotoUncached(p, site + '/private/', 'after logout');
		await expectLoginPage(p, '/private/');
		await shot('private-after-logout');
	});

	await step('the refresh cookie of the logged-out session, replayed, renews nothing', async () => {
		await p.context().addCookies([lastRefresh]);
		const resp = await gotoUncached(p, site + '/private/', 'with the replayed refresh cookie');
		await expectLoginPage(p, '/private/');
		assert.equal(resp.status(), 200);
		assert.equal((await sessionCookies(p))[accessCookie], undefined, 'a revoked session was renewed');
		await shot('replayed-refresh-refused');
	});

	await step('a wrong password shows the error (role=alert) with 401 and sets no cookie', async () => {
		const w = await newPage(browser);
		await w.goto(site + loginPath + '?next=%2Fprivate%2F');
		const { post } = await submitLogin(w, user, password + '-wrong');
		assert.equal(post.status(), 401);
		await expectLoginPage(w, '/private/');
		const alert = w.getByRole('alert');
		await alert.waitFor();
		assert.ok((await alert.textContent()).trim().length > 0, 'the alert is empty');
		assert.equal(await w.locator('input[name=username]').inputValue(), user, 'the username is not kept');
		assert.equal(await w.locator('input[name=password]').inputValue(), '', 'the password was sent back');
		assert.deepEqual(await sessionCookies(w), {}, 'cookies after a failed login');
		await shot('wrong-password');
	});

	const evil = [
		['protocol-relative', '//evil.example/'],
		['absolute', 'https://evil.example/'],
		['encoded-slashes', '/%2F%2Fevil.example/'],
		['backslash', '/\\evil.example/'],
	];
	for (const [name, next] of evil) {
		await step(`next=${next} lands on / after login, never off-site`, async () => {
			const e = await newPage(browser);
			await e.goto(site + loginPath + '?next=' + encodeURIComponent(next));
			await expectLoginPage(e, '/');
			// The page already dropped it; post it anyway, as a forged form would.
			const { post, landed } = await submitLogin(e, user, password, () =>
				e.locator('input[name=next]').evaluate((el, v) => { el.value = v; }, next));
			assert.equal(new URLSearchParams(post.request().postData()).get('next'), next, 'the posted next');
			assert.equal(post.status(), 303);
			assert.equal(post.headers()['location'], '/');
			assert.equal(landed.url(), site + '/');
			assert.equal(e.url(), site + '/');
			assert.equal(await e.locator('h1').textContent(), 'Gatehouse demo');
			await shot(`next-${name}`);
		});
	}
}

async function main() {
	await mkdir(artifacts, { recursive: true });
	// Screenshots of an earlier run would be mistaken for this one's.
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
		await run(browser);
	} catch (err) {
		console.error(`FAIL ${stepName}\n${err.stack || err}`);
		if (page) {
			console.error(`page: ${page.url()}`);
			await page.screenshot({ path: path.join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
			const html = await page.content().catch(() => '');
			console.error(`page content:\n${html.slice(0, 4000)}`);
		}
		process.exitCode = 1;
	} finally {
		await browser.close();
	}
}

await main();
