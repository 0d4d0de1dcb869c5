// Takes the screenshot of the dashboard page that integration/dashboard_test.go
// (TestDashboardPicture) renders from a real run's scrapes: a local HTML file with inline SVG
// only (no script, nothing fetched), opened in headless Chromium and saved as a PNG.
//
//   node dashboard.mjs <page.html> <out.png>
//
// with GATEHOUSE_CHROMIUM the browser (default /usr/bin/chromium). Exit status 0 when the PNG
// was written.
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [page, out] = process.argv.slice(2);
if (!page || !out) {
	console.error('usage: node dashboard.mjs <page.html> <out.png>');
	process.exit(2);
}
const executablePath = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';

const browser = await chromium.launch({
	executablePath,
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
	const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
	const tab = await context.newPage();
	// The page needs nothing from the network: refuse anything but the file itself.
	await tab.route(/^(?!file:)/, (route) => route.abort());
	await tab.goto(pathToFileURL(page).href, { waitUntil: 'load' });
	await tab.screenshot({ path: out, fullPage: true });
	console.log(`ok ${out}`);
} finally {
	await browser.close();
}
