// End-to-end tests of the Kairos web UI in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core). crates/kairos/tests/ui.rs starts a real server with a fresh workspace and a UI user, then runs
// this with BASE_URL, EMAIL, PASSWORD, WRITE_KEY, SECRET_KEY and SCREENSHOT_DIR. It stops at the first failure,
// leaves a screenshot of that moment, and ends with an "N passed, N failed" line.
//
// Run by hand against any server: BASE_URL=http://127.0.0.1:8080 EMAIL=... PASSWORD=... WRITE_KEY=wk_...
// SECRET_KEY=sk_... SCREENSHOT_DIR=/tmp/shots node ui-tests/run.mjs
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`set ${k}`);
  return v;
};
const BASE = env('BASE_URL').replace(/\/$/, '');
const EMAIL = env('EMAIL');
const PASSWORD = env('PASSWORD');
const WRITE_KEY = env('WRITE_KEY');
const SECRET_KEY = env('SECRET_KEY');
const SHOTS = process.env.SCREENSHOT_DIR || 'screenshots';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT_MS = 10_000;
mkdirSync(SHOTS, { recursive: true });

const started = Date.now();
let passed = 0;
let failed = 0;
let page = null;

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

async function shot(name, p = page) {
  if (p) await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok    ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL  ${name} (${Date.now() - t} ms)\n${e.stack || e}`);
    await shot(`failure-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`).catch(() => {});
    throw e;
  }
}

/** Segment-style ingestion with the public write key (HTTP Basic, key as user name). */
async function ingest(kind, body, key = WRITE_KEY) {
  const res = await fetch(`${BASE}/v1/${kind}`, {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.ok, `/v1/${kind} answered ${res.status}: ${await res.text()}`);
}

/** The admin API with the secret key. */
async function admin(method, path, body) {
  const res = await fetch(`${BASE}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${SECRET_KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  expect(res.ok, `${method} ${path} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The first number in an element's text ("1,234" → 1234). */
async function numberIn(locator) {
  const t = await locator.innerText();
  return Number((t.match(/-?[\d,]+(\.\d+)?/) || ['NaN'])[0].replaceAll(',', ''));
}

/** Fails the page on uncaught script errors and Content-Security-Policy violations. */
function watch(p, errors) {
  p.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|SyntaxError|TypeError|ReferenceError/.test(m.text())) errors.push(m.text());
  });
}

async function login(p, email, password) {
  await p.goto(`${BASE}/ui/login`);
  await p.fill('#email', email);
  await p.fill('#password', password);
  await Promise.all([p.waitForURL(`${BASE}/ui/`), p.click('button[type=submit]')]);
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
});
const errors = [];
try {
  // Shop data the pages will show: a browsing shopper, a customer with an order, a product.
  await step('seed the store through the API', async () => {
    await admin('PUT', '/products/bike-1', {
      sku: 'GRV-1',
      title: 'Gravel Bike',
      price: 1299,
      currency: 'EUR',
      categories: ['bicycles'],
      inventory_quantity: 4,
      url: 'https://shop.example/gravel',
    });
    await admin('PUT', '/settings', { store: { name: 'Test Shop', currency: 'EUR' } });
    await ingest('identify', { userId: 'ui-ann', traits: { email: 'ann.lindqvist@example.com', first_name: 'Ann', last_name: 'Lindqvist', city: 'Helsinki' } });
    await ingest('track', { userId: 'ui-ann', event: 'Product Viewed', properties: { product_id: 'bike-1', name: 'Gravel Bike', price: 1299, category: 'bicycles' } });
    await ingest('track', { userId: 'ui-ann', event: 'Product Added', properties: { product_id: 'bike-1', name: 'Gravel Bike', price: 1299, quantity: 1 } });
    await ingest('identify', { userId: 'ui-bob', traits: { email: 'bob@example.com', first_name: 'Bob', city: 'Tampere' } });
    await ingest('track', { userId: 'ui-bob', event: 'Order Completed', properties: { order_id: 'o-1', total: 250, products: [{ product_id: 'bike-1', price: 250, quantity: 1 }] } });
  });

  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  desktop.setDefaultTimeout(TIMEOUT_MS);
  page = await desktop.newPage();
  watch(page, errors);

  await step('the UI asks for a login and refuses a wrong password', async () => {
    await page.goto(`${BASE}/`);
    expect(page.url().startsWith(`${BASE}/ui/login`), `/ redirects to the login page, got ${page.url()}`);
    await shot('login');
    await page.fill('#email', EMAIL);
    await page.fill('#password', 'not-the-password');
    await page.click('button[type=submit]');
    await page.getByRole('alert').filter({ hasText: 'Wrong email or password' }).waitFor();
    expect((await page.inputValue('#email')) === EMAIL, 'the email is kept after a failed login');
  });

  await step('log in with the keyboard only', async () => {
    await page.goto(`${BASE}/ui/login?next=/ui/`);
    await page.locator('body').focus();
    for (let i = 0; i < 6 && (await page.evaluate(() => document.activeElement?.id)) !== 'email'; i++) await page.keyboard.press('Tab');
    expect((await page.evaluate(() => document.activeElement?.id)) === 'email', 'Tab reaches the email field');
    await page.keyboard.type(EMAIL);
    await page.keyboard.press('Tab');
    expect((await page.evaluate(() => document.activeElement?.id)) === 'password', 'Tab moves to the password field');
    await page.keyboard.type(PASSWORD);
    await Promise.all([page.waitForURL(`${BASE}/ui/`), page.keyboard.press('Enter')]);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  });

  let ordersBefore = 0;
  let revenueBefore = 0;
  await step('the dashboard shows KPIs, the revenue chart and flow performance', async () => {
    await page.locator('[data-kpi="orders"] .value').waitFor();
    ordersBefore = await numberIn(page.locator('[data-kpi="orders"] .value'));
    revenueBefore = await numberIn(page.locator('[data-kpi="revenue"] .value'));
    expect(ordersBefore >= 1, `Bob's order is counted (orders = ${ordersBefore})`);
    await page.locator('figure.chart svg[role="img"]').waitFor();
    await page.getByRole('heading', { name: 'Flow performance' }).waitFor();
    await shot('dashboard');
  });

  await step('the API refuses session requests without the CSRF token', async () => {
    const [without, withToken] = await page.evaluate(async () => {
      const csrf = document.querySelector('meta[name="csrf-token"]').content;
      const a = await fetch('/api/v1/contacts', { method: 'GET' });
      const b = await fetch('/api/v1/contacts', { headers: { 'X-CSRF-Token': csrf } });
      return [a.status, b.status];
    });
    expect(without === 403 && withToken === 200, `without token ${without} (want 403), with token ${withToken} (want 200)`);
  });

  await step('find a contact and read its timeline', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
    await page.getByRole('heading', { level: 1, name: 'Contacts' }).waitFor();
    await page.getByLabel('Search by email, name or user id').fill('lindqvist');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'Ann Lindqvist' }).click();
    await page.getByRole('heading', { level: 1, name: 'Ann Lindqvist' }).waitFor();
    const timeline = page.locator('ol.timeline');
    await timeline.getByText('Product Added', { exact: true }).waitFor();
    await timeline.getByText('Product Viewed', { exact: true }).waitFor();
    await page.getByText('Computed fields').waitFor();
    await shot('contact');
  });

  await step('create a segment and see its count while typing', async () => {
    await page.goto(`${BASE}/ui/segments/new`);
    await page.getByLabel('Name', { exact: true }).fill('Helsinki shoppers');
    const definition = page.getByLabel('Definition (segment language)');
    await definition.fill('trait.city = "Helsinki"');
    await page.locator('[data-testid="live-count"][data-count="1"]').waitFor();
    // The condition builder writes text too: add "did Product Viewed within 30d".
    await page.getByLabel('Kind of condition').selectOption('did');
    await page.getByLabel('Event', { exact: true }).fill('Product Viewed');
    await page.getByRole('button', { name: 'Add condition' }).click();
    const text = await definition.inputValue();
    expect(text === 'trait.city = "Helsinki" and did "Product Viewed" within 30d', `builder text: ${text}`);
    await page.locator('[data-testid="live-count"][data-count="1"]').waitFor();
    await definition.fill('trait.city = "Nowhere"');
    await page.locator('[data-testid="live-count"][data-count="0"]').waitFor();
    await definition.fill(text);
    await page.locator('[data-testid="live-count"][data-count="1"]').waitFor();
    await shot('segment-new');
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.getByRole('heading', { level: 1, name: 'Helsinki shoppers' }).waitFor();
    await page.locator('[data-testid="segment-size"][data-size="1"]').waitFor();
    await shot('segment');
  });

  let flowUrl = '';
  await step('open a library flow and activate it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Flows' }).click();
    await page.getByRole('heading', { name: 'Flow library' }).waitFor();
    await shot('flows');
    await page.getByRole('button', { name: 'Install Welcome series' }).click();
    await page.getByRole('heading', { level: 1, name: 'Welcome series' }).waitFor();
    flowUrl = page.url();
    await page.locator('.canvas [data-step="welcome"]').waitFor();
    expect((await page.locator('.canvas .step').count()) >= 6, 'the canvas shows the trigger and the steps');
    await page.getByRole('button', { name: 'Activate flow' }).click();
    await page.locator('[data-testid="flow-status"]').getByText('active').waitFor();
    await page.getByRole('button', { name: 'Pause flow' }).waitFor();
  });

  await step("edit a step's timing on the canvas", async () => {
    await page.locator('.canvas [data-step="wait1"]').click();
    await page.getByLabel('Wait for', { exact: true }).fill('1d');
    await page.getByRole('button', { name: 'Save step' }).click();
    await page.locator('.canvas [data-step="wait1"]').getByText('Wait 1d').waitFor();
  });

  await step('trigger the flow through the ingestion API and read the message in the outbox', async () => {
    await ingest('identify', { userId: 'ui-cara', traits: { email: 'cara@example.com', first_name: 'Cara' } });
    await admin('POST', '/contacts/consent', { email: 'cara@example.com', channel: 'email', status: 'subscribed', source: 'ui-test' });
    await ingest('track', { userId: 'ui-cara', event: 'Signed Up', properties: { source: 'footer' } });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Outbox' }).click();
    await page.getByRole('heading', { level: 1, name: 'Outbox' }).waitFor();
    const item = page.locator('.list-select button').filter({ hasText: 'Welcome to the shop' }).filter({ hasText: 'cara@example.com' });
    await item.first().click();
    const frame = page.frameLocator('#outbox-viewer iframe');
    await frame.getByText('Thanks for joining us').waitFor();
    await frame.getByText('Hi Cara').waitFor();
    await shot('outbox');
    await page.goto(flowUrl);
    await page.locator('.canvas [data-step="welcome"]').getByText('sent 1').waitFor();
    await shot('flow');
  });

  await step('the dashboard numbers change when an order arrives', async () => {
    await ingest('track', { userId: 'ui-ann', event: 'Order Completed', properties: { order_id: 'o-2', total: 1299 } });
    await page.goto(`${BASE}/ui/`);
    await page.locator('[data-kpi="orders"] .value').waitFor();
    const orders = await numberIn(page.locator('[data-kpi="orders"] .value'));
    const revenue = await numberIn(page.locator('[data-kpi="revenue"] .value'));
    expect(orders === ordersBefore + 1, `orders ${ordersBefore} → ${orders}`);
    expect(revenue > revenueBefore, `revenue ${revenueBefore} → ${revenue}`);
    await shot('dashboard-after-order');
  });

  await step('the other pages render: templates, catalog, campaigns, settings', async () => {
    await page.goto(`${BASE}/ui/templates/lib-welcome-1`);
    await page.getByRole('heading', { level: 1, name: 'Welcome to the shop' }).waitFor();
    await page.frameLocator('iframe').first().getByText('Thanks for joining us').waitFor();
    // The preview follows the draft while typing (nothing saved).
    await page.locator('input[name="subject"]').fill('Live draft {{ 1 | plus: 1 }}');
    await page.getByText('Live draft 2').first().waitFor();
    await shot('template');
    await page.goto(`${BASE}/ui/catalog`);
    await page.getByLabel('Inventory of Gravel Bike', { exact: true }).fill('0');
    await page.getByLabel('Gravel Bike is available', { exact: true }).uncheck();
    await page.getByRole('button', { name: 'Save inventory of Gravel Bike' }).click();
    await page.locator('[data-product="bike-1"]').getByText('sold out').waitFor();
    const stock = await admin('GET', '/products/bike-1');
    expect(stock.inventory_quantity === 0 && stock.available === false, `inventory saved: ${JSON.stringify(stock)}`);
    await shot('catalog');
    await page.goto(`${BASE}/ui/campaigns/new`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await shot('campaign-new');
    await page.goto(`${BASE}/ui/settings`);
    await page.getByLabel('Quiet hours, SMS').fill('22:00-08:00');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Settings saved').waitFor();
    const settings = await admin('GET', '/settings');
    expect(settings.quiet_hours.sms === '22:00-08:00', `quiet hours saved: ${JSON.stringify(settings.quiet_hours)}`);
    await shot('settings');
  });

  await step('integrations: connect Shopify and see its webhook address, secrets never shown back', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Integrations' }).click();
    await page.getByRole('heading', { level: 1, name: 'Integrations' }).waitFor();
    await page.getByLabel('Shop domain').fill('velo.myshopify.com');
    await page.getByLabel('Admin API access token').fill('shpat_ui_test_token');
    await page.getByLabel('Webhook signing secret').fill('ui-test-secret');
    await page.getByRole('button', { name: 'Connect Shopify' }).click();
    await page.locator('#toast').getByText('Shopify connected').waitFor();
    const shop = page.locator('[data-platform="shopify"]');
    await shop.getByText('/hooks/shopify/').waitFor();
    await shop.getByText('connected', { exact: true }).waitFor();
    const all = await admin('GET', '/integrations');
    expect(all.items[0].connected === true && all.items[0].shop_domain === 'velo.myshopify.com', `connected: ${JSON.stringify(all.items[0])}`);
    const html = await page.content();
    expect(!html.includes('shpat_ui_test_token') && !html.includes('ui-test-secret'), 'secrets are not shown back');
    await shot('integrations');
  });

  await step('import: preview the mapping of a contacts CSV, upload it, see the refused row; export contacts and segment members', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Import' }).click();
    await page.getByRole('heading', { level: 1, name: 'Import' }).waitFor();
    const csv = [
      'E-mail,First Name,Email Consent,Consent Source,Loyalty Tier',
      'csv.ann@example.com,Ann,yes,popup,gold',
      'csv.bob@example.com,Bob,no,,silver',
      'not-an-email,Cid,yes,,',
    ].join('\n');
    await page.getByLabel('CSV file', { exact: true }).setInputFiles({ name: 'contacts.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    const preview = page.locator('[data-testid="import-preview"]');
    await preview.getByRole('cell', { name: 'Profile field “loyalty_tier”', exact: true }).waitFor();
    await preview.getByText('Refused: E-mail').waitFor();
    await shot('import-preview');
    await page.getByRole('button', { name: 'Import the file' }).click();
    const result = page.locator('[data-testid="import-result"]');
    await result.getByText('Imported 2 rows, refused 1 row.').waitFor();
    await result.getByText('is not an email address').waitFor();
    const ann = await admin('GET', '/contacts?email=csv.ann%40example.com');
    expect(ann.items[0]?.consent?.email?.status === 'subscribed' && ann.items[0].consent.email.source === 'popup', `consent imported: ${JSON.stringify(ann.items[0]?.consent)}`);
    await shot('import-result');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
    await page.getByRole('heading', { level: 1, name: 'Contacts' }).waitFor();
    const [all] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const allText = readFileSync(await all.path(), 'utf8');
    expect(allText.startsWith('id,email,') && allText.includes('csv.ann@example.com') && allText.includes('csv.bob@example.com'), `contacts export: ${allText.slice(0, 300)}`);
    const seg = await admin('POST', '/segments', { name: 'Gold members', definition: 'trait.loyalty_tier = "gold"' });
    await page.goto(`${BASE}/ui/segments/${encodeURIComponent(seg.id)}`);
    await page.getByRole('heading', { level: 1, name: 'Gold members' }).waitFor();
    const [members] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export members' }).click()]);
    const memberText = readFileSync(await members.path(), 'utf8');
    expect(memberText.includes('csv.ann@example.com') && !memberText.includes('csv.bob@example.com'), `segment export: ${memberText.slice(0, 300)}`);
  });

  await step('log out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${BASE}/ui/login`);
    await page.goto(`${BASE}/ui/contacts`);
    expect(page.url().startsWith(`${BASE}/ui/login`), `after logout the UI asks for a login again (${page.url()})`);
  });
  await desktop.close();

  await step('phone-sized viewport: dashboard and menu', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    phone.setDefaultTimeout(TIMEOUT_MS);
    page = await phone.newPage();
    watch(page, errors);
    await login(page, EMAIL, PASSWORD);
    await page.locator('[data-kpi="orders"] .value').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow <= 1, `no sideways scrolling on a phone (${overflow}px too wide)`);
    await shot('dashboard-phone');
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.click();
    expect((await menu.getAttribute('aria-expanded')) === 'true', 'the menu button says it is expanded');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
    await page.getByRole('heading', { level: 1, name: 'Contacts' }).waitFor();
    const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow2 <= 1, `contacts fit the phone (${overflow2}px too wide)`);
    await shot('contacts-phone');
    await page.goto(`${BASE}/ui/integrations`);
    await page.getByRole('heading', { level: 1, name: 'Integrations' }).waitFor();
    const overflow3 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow3 <= 1, `integrations fit the phone (${overflow3}px too wide)`);
    await shot('integrations-phone');
    await page.goto(`${BASE}/ui/import`);
    await page.getByRole('heading', { level: 1, name: 'Import' }).waitFor();
    const overflow4 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow4 <= 1, `the import page fits the phone (${overflow4}px too wide)`);
    await shot('import-phone');
    await phone.close();
  });

  await step('no script errors or CSP violations on any page', async () => {
    expect(errors.length === 0, errors.join('\n'));
  });
} catch {
  // Reported by step(); the summary below carries the failure.
} finally {
  await browser.close();
}
console.log(`screenshots in ${SHOTS}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
