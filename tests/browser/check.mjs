// Loads an atsgate page in Debian's chromium (headless, driven by playwright-core) and checks what a
// person would see. Called by tests/integration/browser_test.cpp, which starts atsgate, makes the
// traffic the page should show and writes SPEC (JSON):
//
//   {"mode": "dashboard" | "report",
//    "url": "http://127.0.0.1:PORT/" (dashboard) or "file:///.../report.html" (report),
//    "token": "...",                 dashboard: typed into the login form ("" = no login)
//    "out": "DIR",                   screenshots go here (test artifacts)
//    "expect": [{"selector": "css", "text": "substring of its innerText"}, ...],
//    "refresh": true}                dashboard: check that the script refreshes <main>
//
// Every check prints "ok: ..." or "FAIL: ..."; the exit status is 1 if any failed. Checked for both
// modes, with JavaScript on and off: each expectation is visible, no request goes to another
// origin, no Content-Security-Policy violation or script error is reported, hostile text stays text
// (no script element but our own, no window.__pwned), and a full-page screenshot is written.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const scale = Number(process.env.ATSGATE_TEST_TIMEOUT_SCALE || '1') || 1;
const timeout = Math.round(15000 * scale);
let failures = 0;
const ok = (what) => console.log(`ok: ${what}`);
const fail = (what) => { console.log(`FAIL: ${what}`); failures++; };
const check = (cond, what) => (cond ? ok(what) : fail(what));

const origin = spec.mode === 'dashboard' ? new URL(spec.url).origin : null;

async function inspect(browser, js) {
  const label = js ? 'JavaScript on' : 'JavaScript off';
  const context = await browser.newContext({ javaScriptEnabled: js, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(timeout);
  const requests = [];
  const problems = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  // The login page's own 401 is logged as "Failed to load resource"; anything else is a problem.
  page.on('console', (m) => {
    const t = m.text();
    if ((m.type() === 'error' && !/status of 401/.test(t)) || /Content Security Policy/i.test(t)) problems.push(t);
  });
  page.on('pageerror', (e) => problems.push(String(e)));

  let res = await page.goto(spec.url);
  if (spec.mode === 'dashboard' && spec.token) {
    check(res.status() === 401, `${label}: the dashboard without a session answers 401 (got ${res.status()})`);
    await page.fill('#token', spec.token);
    [res] = await Promise.all([page.waitForNavigation(), page.click('form.login button[type=submit]')]);
    check(res.status() === 200, `${label}: logged in through the form (status ${res.status()})`);
    check(!page.url().includes(spec.token), `${label}: the token is not in the URL (${page.url()})`);
  } else if (res) {
    check(res.status() === 200, `${label}: loaded (status ${res.status()})`);
  }

  for (const e of spec.expect) {
    const loc = page.locator(e.selector).filter({ hasText: e.text }).first();
    try {
      await loc.waitFor({ state: 'visible', timeout });
      ok(`${label}: ${e.selector} shows "${e.text}"`);
    } catch {
      fail(`${label}: ${e.selector} does not show "${e.text}"`);
    }
  }

  if (spec.mode === 'dashboard') {
    for (const id of ['#chart-handshakes', '#chart-refusals']) {
      const box = await page.locator(id).boundingBox();
      check(box && box.width > 300 && box.height > 50, `${label}: chart ${id} is drawn (${box ? `${Math.round(box.width)}x${Math.round(box.height)}` : 'missing'})`);
    }
    const bars = await page.locator('#chart-handshakes rect.bar').count();
    check(bars > 0, `${label}: the handshake chart has ${bars} bar(s)`);
    const refusalBars = await page.locator('#chart-refusals rect.bar').count();
    check(refusalBars > 0, `${label}: the refusal chart has ${refusalBars} bar(s)`);
    const note = await page.locator('#refresh').innerText();
    check(js ? /auto-refresh every/.test(note) : /JavaScript is off/.test(note), `${label}: refresh note "${note.trim()}"`);
  }

  // Hostile text stayed text: our one script (dashboard) or none (report), nothing ran.
  const scripts = await page.evaluate(() => document.scripts.length);
  check(scripts === (spec.mode === 'dashboard' ? 1 : 0), `${label}: ${scripts} script element(s) in the page`);
  if (js) check((await page.evaluate(() => window.__pwned)) === undefined, `${label}: no injected script ran`);

  if (js && spec.refresh && spec.mode === 'dashboard') {
    const u = new URL(page.url());
    u.searchParams.set('refresh', '2');
    await page.goto(u.toString());
    await page.evaluate(() => { document.querySelector('main').setAttribute('data-old', '1'); });
    try {
      await page.waitForFunction(() => !document.querySelector('main').hasAttribute('data-old') &&
                                       /last/.test(document.getElementById('refresh').textContent), null, { timeout });
      ok(`${label}: the script replaced <main> with a fresh copy`);
      await page.locator(spec.expect[0].selector).filter({ hasText: spec.expect[0].text }).first().waitFor({ state: 'visible' });
      ok(`${label}: still shows "${spec.expect[0].text}" after the refresh`);
    } catch (e) {
      fail(`${label}: no refresh within ${timeout} ms: ${e.message.split('\n')[0]}`);
    }
  }

  const shot = path.join(spec.out, `${spec.mode}${js ? '' : '-nojs'}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  ok(`${label}: screenshot ${shot}`);

  const foreign = requests.filter((u) => (origin ? new URL(u).origin !== origin : !u.startsWith('file://')));
  check(foreign.length === 0, `${label}: ${requests.length} request(s), none to another origin${foreign.length ? `: ${foreign.join(' ')}` : ''}`);
  check(problems.length === 0, `${label}: no CSP violation or script error${problems.length ? `: ${problems.join(' | ')}` : ''}`);
  await context.close();
}

const browser = await chromium.launch({
  executablePath: process.env.ATSGATE_CHROMIUM || '/usr/bin/chromium',
  timeout,
  // What Debian's chromium needs here as root, without network (see README "Tests and benchmarks").
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
try {
  await inspect(browser, true);
  await inspect(browser, false);
} catch (e) {
  fail(`unexpected error: ${e.stack || e}`);
} finally {
  await browser.close();
}
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
