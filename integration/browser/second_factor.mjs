// Drives a real headless Chromium through Gatehouse's second factor, as a person would: a user
// who must have one signs in with the password and is sent to enrol an authenticator app (the
// script reads the key from the page and computes the codes, RFC 6238, with node:crypto), gets
// the recovery codes once, signs out, signs in with password + code, is refused a code used
// before, and signs in once with a recovery code, which is then refused. Screenshots of the
// enrolment and code pages go to the image directory (docs/images in the repository).
//
// Run by integration/second_factor_browser_test.go (TestBrowserSecondFactor), which starts Caddy:
//
//   node second_factor.mjs <site URL> <image dir> <artifact dir>
//
// with GATEHOUSE_USER and GATEHOUSE_PASSWORD in the environment and optionally
// GATEHOUSE_CHROMIUM (default /usr/bin/chromium). Exit status 0 when every step passed.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [site, images, artifacts] = process.argv.slice(2);
const user = process.env.GATEHOUSE_USER;
const password = process.env.GATEHOUSE_PASSWORD;
const executablePath = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';
if (!site || !images || !artifacts || !user || !password) {
	console.error('usage: GATEHOUSE_USER=... GATEHOUSE_PASSWORD=... node second_factor.mjs <site URL> <image dir> <artifact dir>');
	process.exit(2);
}
const base = '/api/token';

let page;
let stepName = 'start';

async function step(name, fn) {
	stepName = name;
	await fn();
	console.log(`ok ${name}`);
}

// shot saves a screenshot of the page for the documentation.
async function shot(name) {
	await page.screenshot({ path: path.join(images, `second-factor-${name}.png`), fullPage: true });
}

// base32Decode decodes an RFC 4648 base32 key as authenticator apps take it.
function base32Decode(s) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = 0, value = 0;
	const out = [];
	for (const c of s.replace(/=+$/, '').toUpperCase()) {
		const i = alphabet.indexOf(c);
		assert.ok(i >= 0, `not base32: ${c}`);
		value = (value << 5) | i;
		bits += 5;
		if (bits >= 8) {
			out.push((value >>> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	return Buffer.from(out);
}

// totp is RFC 6238's code of key for time step: HMAC-SHA1 of the step, dynamic truncation,
// six digits.
function totp(key, step) {
	const msg = Buffer.alloc(8);
	msg.writeBigUInt64BE(BigInt(step));
	const mac = createHmac('sha1', key).update(msg).digest();
	const off = mac[mac.length - 1] & 0x0f;
	const n = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
	return String(n % 1_000_000).padStart(6, '0');
}

const nowStep = () => Math.floor(Date.now() / 30000);

// Codes never reuse a step: next() waits (at most one step) until the step after the last one
// used is within the server's window of one step either side.
const codes = {
	key: null,
	last: 0,
	async next() {
		const s = this.last + 1;
		while (nowStep() + 1 < s) {
			await new Promise((r) => setTimeout(r, 200));
		}
		this.last = s;
		return totp(this.key, s);
	},
};

// signIn fills the login form and returns the POST's answer once the browser landed.
async function signIn(p) {
	await p.fill('input[name=username]', user);
	await p.fill('input[name=password]', password);
	const posted = p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === base + '/login');
	const landed = p.waitForNavigation();
	await p.click('form[method=post] button[type=submit]');
	const resp = await posted;
	await landed;
	return resp;
}

// submitCode types code into the page's code form and returns the POST's answer.
async function submitCode(p, code, action) {
	await p.fill('input[name=code]', code);
	const posted = p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === base + action);
	const landed = p.waitForNavigation();
	await p.click('form[action$="' + action + '"] button[type=submit]');
	const resp = await posted;
	await landed;
	return resp;
}

async function cookieNames(p) {
	return (await p.context().cookies(site)).map((c) => c.name).sort();
}

async function expectOTPPage(p) {
	assert.equal(new URL(p.url()).pathname, '/otp/', `expected /otp/, at ${p.url()}`);
	assert.equal((await p.locator('body').textContent()).trim(), 'otp ok');
}

async function signOut(p) {
	await p.goto(site + base + '/factors');
	const landed = p.waitForNavigation();
	await p.click('#sign-out');
	await landed;
	assert.deepEqual((await cookieNames(p)).filter((n) => n.startsWith('gatehouse_')), [], 'cookies after signing out');
}

async function run(browser) {
	const context = await browser.newContext({ viewport: { width: 760, height: 640 } });
	context.setDefaultTimeout(20000);
	page = await context.newPage();
	const p = page;
	let recovery;

	await step('the password alone gives no session; the user is sent to enrol a second factor', async () => {
		const resp = await p.goto(site + '/otp/');
		assert.equal(new URL(p.url()).pathname, base + '/login', `jwt_auth sends the browser to the login page, at ${p.url()}`);
		assert.equal(resp.status(), 200);
		const post = await signIn(p);
		assert.equal(post.status(), 303);
		assert.equal(post.headers()['location'], base + '/factors');
		assert.deepEqual((await cookieNames(p)).filter((n) => n.startsWith('gatehouse_')), [], 'the challenge cookie is not for / ...');
		const scoped = (await p.context().cookies(site + base + '/factors')).map((c) => c.name);
		assert.deepEqual(scoped, ['gatehouse_factor'], 'only the challenge cookie, for the issuer\'s paths');
		await p.locator('#notice').waitFor();
		await shot('enrol-required');
	});

	await step('the setup page shows a QR code and the key; a wrong code is refused', async () => {
		const landed = p.waitForNavigation();
		await p.click('#totp-start');
		await landed;
		const qr = await p.locator('#totp-qr').evaluate((img) => ({ w: img.naturalWidth, src: img.src.slice(0, 22) }));
		assert.deepEqual(qr, { w: 240, src: 'data:image/png;base64,' }, 'the QR code image loaded');
		codes.key = base32Decode((await p.locator('#totp-secret').textContent()).trim());
		codes.last = nowStep() - 2;
		await shot('totp-setup');
		const resp = await submitCode(p, totp(codes.key, nowStep() - 20), '/factors/totp/confirm');
		assert.equal(resp.status(), 401);
		await p.locator('#error').waitFor();
		// Start again: a new key.
		const again = p.waitForNavigation();
		await p.click('#totp-start');
		await again;
		codes.key = base32Decode((await p.locator('#totp-secret').textContent()).trim());
	});

	await step('the first code turns TOTP on, shows ten recovery codes once and signs the user in', async () => {
		const resp = await submitCode(p, await codes.next(), '/factors/totp/confirm');
		assert.equal(resp.status(), 200);
		recovery = await p.locator('#recovery-codes li').allTextContents();
		assert.equal(recovery.length, 10);
		for (const c of recovery) {
			assert.match(c, /^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
		}
		await shot('recovery-codes');
		const landed = p.waitForNavigation();
		await p.click('#continue');
		await landed;
		await expectOTPPage(p);
		const names = await cookieNames(p);
		assert.ok(names.includes('gatehouse_access') && names.includes('gatehouse_refresh'), `session cookies: ${names}`);
	});

	await step('the factors page says TOTP is on; signing out ends the session', async () => {
		await p.goto(site + base + '/factors');
		assert.equal((await p.locator('#status-totp').textContent()).trim(), 'On. 10 recovery codes left.');
		await signOut(p);
		const resp = await p.goto(site + '/otp/');
		assert.equal(new URL(p.url()).pathname, base + '/login', 'signed out: /otp/ sends to the login page');
		assert.equal(resp.status(), 200);
	});

	let used;
	await step('password, then the code page; the code signs the user in', async () => {
		const post = await signIn(p);
		assert.equal(post.status(), 303);
		assert.equal(post.headers()['location'], base + '/login/verify');
		await p.locator('input[name=code]').waitFor();
		await shot('code');
		used = await codes.next();
		const resp = await submitCode(p, used, '/login/verify');
		assert.equal(resp.status(), 303);
		await expectOTPPage(p);
	});

	await step('the same code again, in a new sign-in, is refused', async () => {
		await signOut(p);
		await p.goto(site + '/otp/');
		await signIn(p);
		const resp = await submitCode(p, used, '/login/verify');
		assert.equal(resp.status(), 401);
		assert.match(await p.locator('#error').textContent(), /not right, or was used already/);
		await shot('code-refused');
	});

	await step('a recovery code works in place of a code, once', async () => {
		const resp = await submitCode(p, recovery[0], '/login/verify');
		assert.equal(resp.status(), 303);
		await expectOTPPage(p);
		await p.goto(site + base + '/factors');
		assert.equal((await p.locator('#status-totp').textContent()).trim(), 'On. 9 recovery codes left.');
		await signOut(p);
		await p.goto(site + '/otp/');
		await signIn(p);
		const again = await submitCode(p, recovery[0], '/login/verify');
		assert.equal(again.status(), 401);
		await p.locator('#error').waitFor();
	});
	await context.close();
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
		await page.screenshot({ path: path.join(artifacts, 'second-factor-failure.png'), fullPage: true }).catch(() => {});
		const html = await page.content().catch(() => '');
		console.error(`page content:\n${html.slice(0, 4000)}`);
	}
	process.exitCode = 1;
} finally {
	await browser.close();
}
