// The demo's 90 days in Chromium (issue 16 items 7 and 8): crates/kairos/tests/demo.rs starts `kairos demo` and
// runs this with BASE_URL, EMAIL, PASSWORD (the demo's printed login), SECRET_KEY and SCREENSHOT_DIR. The pages a
// marketer opens first show the history the demo lived: revenue credited to email on the dashboard, flows that
// ran with what they earned, sent campaigns with an A/B winner, a customer's orders and timeline in sentences,
// segments said in words and a call task; every page fits a phone, loads no picture from elsewhere, and shows
// names rather than ids. Screenshots go to SCREENSHOT_DIR.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`set ${k}`);
  return v;
};
const BASE = env('BASE_URL').replace(/\/$/, '');
const SECRET_KEY = env('SECRET_KEY');
const SHOTS = process.env.SCREENSHOT_DIR || 'demo-screenshots';
mkdirSync(SHOTS, { recursive: true });

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

async function admin(path) {
  const res = await fetch(`${BASE}/api/v1${path}`, { headers: { Authorization: `Bearer ${SECRET_KEY}` } });
  expect(res.ok, `GET ${path} answered ${res.status}`);
  return res.json();
}

const numberIn = (text) => Number((String(text).match(/-?[\d,]+(\.\d+)?/) || ['NaN'])[0].replaceAll(',', ''));

const [campaigns, contacts, flows] = await Promise.all([admin('/campaigns'), admin('/contacts?limit=500'), admin('/flows')]);
const ab = campaigns.items.find((c) => c.ab);
const buyer = contacts.items.find((c) => c.orders?.count >= 2 && c.email);
const cart = flows.items.find((f) => f.name === 'Abandoned cart');
expect(ab && buyer && cart, 'the demo has an A/B campaign, a repeat buyer and the abandoned-cart flow');

/** Each page: its path, and what must be on it (run against the page; throws when missing). */
const PAGES = [
  ['dashboard', '/ui/', async (p) => {
    const value = numberIn(await p.locator('[data-kpi="attributed_revenue"] .value').innerText());
    expect(value > 0, `attributed revenue on the dashboard: ${value}`);
    expect(numberIn(await p.locator('[data-kpi="recovered_revenue"] .value').innerText()) > 0, 'recovered revenue');
    await p.getByRole('row').filter({ hasText: 'Abandoned cart' }).first().waitFor();
  }],
  ['flows', '/ui/flows', async (p) => {
    const row = p.getByRole('row').filter({ hasText: 'Welcome series' }).first();
    const cells = await row.locator('td').allInnerTexts();
    expect(numberIn(cells[2]) > 0, `the welcome series was entered: ${cells}`);
    expect(cells.some((c) => /€[1-9]/.test(c)), `the welcome series earned revenue: ${cells}`);
  }],
  ['flow-abandoned-cart', `/ui/flows/${cart.id}`, async (p) => {
    await p.locator('.canvas').getByText('Check: people whose cart value is more than 2000').waitFor();
    await p.getByText('People who did “Order Completed” since entering the flow').waitFor();
    expect(numberIn(await p.locator('[data-kpi="attributed_revenue"] .value').innerText()) > 0, 'the cart flow earned revenue');
  }],
  ['campaigns', '/ui/campaigns', async (p) => {
    const rows = p.getByRole('row').filter({ hasText: /Sent \w{3} \d+, 20\d\d/ });
    expect((await rows.count()) === 3, 'three sent campaigns, each with its send date');
  }],
  ['campaign-ab', `/ui/campaigns/${ab.id}`, async (p) => {
    await p.getByRole('cell', { name: 'Leader' }).first().waitFor();
    await p.getByText('Winner picked by').waitFor();
    const waiting = await p.locator('.card', { hasText: 'Waiting for the A/B winner' }).locator('.value').innerText();
    expect(numberIn(waiting) === 0, `everyone got the winner: ${waiting} waiting`);
  }],
  ['customer', `/ui/contacts/${buyer.id}`, async (p) => {
    // Two orders (on a phone the table's head is hidden: rows with an amount only).
    await p.getByRole('region', { name: 'Orders' }).getByRole('row').filter({ hasText: '€' }).nth(1).waitFor();
    const timeline = p.locator('ol.timeline');
    await timeline.getByText(/^Placed an order of €/).first().waitFor();
    await timeline.getByText(/^Entered the segment “/).first().waitFor();
  }],
  ['segments', '/ui/segments', async (p) => {
    const row = p.getByRole('row').filter({ hasText: 'Lapsed customers' });
    await row.getByText('People whose number of orders is at least 1 and whose last order was more than 30 days ago').waitFor();
    expect(numberIn((await row.locator('td').allInnerTexts())[1]) > 0, 'lapsed customers are there');
  }],
  ['tasks', '/ui/tasks', async (p) => {
    await p.getByText(/^Call .* about a €[\d,.]+ cart$/).first().waitFor();
  }],
  ['templates', '/ui/templates', async (p) => {
    const text = await p.locator('main').innerText();
    expect(!/\{\{|\{%/.test(text), `templates are named without Liquid: ${text.slice(0, 400)}`);
  }],
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
});
let failed = 0;
try {
  for (const [size, viewport, phone] of [
    ['desktop', { width: 1440, height: 900 }, false],
    ['phone', { width: 390, height: 844 }, true],
  ]) {
    const context = await browser.newContext(phone ? { viewport, isMobile: true, hasTouch: true } : { viewport });
    context.setDefaultTimeout(15_000);
    const p = await context.newPage();
    const problems = [];
    p.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    p.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    // Every picture comes from Kairos itself (the demo's catalog images included).
    p.on('request', (r) => {
      const u = new URL(r.url());
      if (!['data:', 'blob:'].includes(u.protocol) && u.origin !== BASE) problems.push(`a request outside Kairos: ${r.url()}`);
    });
    await p.goto(`${BASE}/ui/login`);
    await p.fill('#email', env('EMAIL'));
    await p.fill('#password', env('PASSWORD'));
    await Promise.all([p.waitForURL(`${BASE}/ui/`), p.click('button[type=submit]')]);
    for (const [name, path, check] of PAGES) {
      const t = Date.now();
      try {
        await p.goto(`${BASE}${path}`);
        await p.getByRole('heading', { level: 1 }).first().waitFor();
        await p.waitForLoadState('networkidle');
        await check(p);
        const text = await p.locator('main').innerText();
        const ids = text.match(/\b(flow|seg|cmp|msg)_[0-9a-z]{6,}\b/g);
        expect(!ids, `ids where people expect names: ${ids}`);
        expect(!/\b(undefined|NaN|null|\[object Object\])\b/.test(text), 'no broken values');
        if (phone) {
          const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          expect(overflow <= 1, `fits the phone (${overflow}px too wide)`);
        }
        expect(!problems.length, `errors on the page: ${problems.join('; ')}`);
        console.log(`ok    demo ${name} at ${viewport.width}×${viewport.height} (${Date.now() - t} ms)`);
      } catch (e) {
        failed += 1;
        console.log(`FAIL  demo ${name} at ${viewport.width}×${viewport.height}\n${e.stack || e}`);
        problems.length = 0;
      }
      await p.screenshot({ path: join(SHOTS, `${name}-${size}.png`), fullPage: true }).catch(() => {});
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(failed ? `${failed} demo page checks failed` : 'every demo page check passed');
process.exit(failed ? 1 : 0);
