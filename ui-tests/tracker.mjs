// The first-party tracker (GET /js/kairos.js) on a sample store page served by this test on another origin
// (localhost, while Kairos answers on 127.0.0.1): the snippet's calls before the script loads, page views, the cart
// helpers, a login that keeps the anonymous history, delivery when the page is left, and nothing sent before
// consent where the store asks for it.
import { createServer } from 'node:http';

const SNIPPET =
  '!function(){var k=window.kairos=window.kairos||[];if(k.load)return;["page","track","identify","reset","consent",' +
  '"addToCart","removeFromCart","viewCart","startCheckout"].forEach(function(m){k[m]=k[m]||function(){' +
  'k.push([m].concat([].slice.call(arguments)))}})}();kairos.page();';

function storePage(base, writeKey, requireConsent) {
  const consent = requireConsent ? ' data-require-consent="true"' : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>City Bike | Velo</title>
<script>${SNIPPET}</script>
<script async src="${base}/js/kairos.js" data-write-key="${writeKey}"${consent}></script></head>
<body><h1>City Bike</h1>
<button id="add" onclick="kairos.addToCart({product_id: 'city-bike', name: 'City Bike', price: 499}, 1, 'cart-7')">Add to cart</button>
<button id="login" onclick="kairos.identify('shopper-7', {email: 'rider@example.com', first_name: 'Rae'})">Log in</button>
<button id="accept" onclick="kairos.consent(true)">Accept cookies</button>
<a id="next" href="/thanks">Next page</a></body></html>`;
}

export async function trackerSteps({ browser, step, expect, admin, BASE, WRITE_KEY }) {
  const store = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(storePage(BASE, WRITE_KEY, req.url.startsWith('/consent')));
  });
  await new Promise((resolve) => store.listen(0, 'localhost', resolve));
  const site = `http://localhost:${store.address().port}`;
  const until = async (what, fn, ms = 10_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      expect(Date.now() < end, `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    await step('site: the tracker is small and cacheable', async () => {
      const res = await fetch(`${BASE}/js/kairos.js`);
      expect(res.ok && (res.headers.get('content-type') || '').includes('javascript'), `answered ${res.status}`);
      expect((res.headers.get('cache-control') || '').includes('max-age'), 'cacheable');
      const text = await res.text();
      expect(text.length < 12_000, `${text.length} bytes`);
    });

    await step('site: a visit, a cart and a login become one known contact with their anonymous history', async () => {
      const ctx = await browser.newContext();
      const p = await ctx.newPage();
      await p.goto(`${site}/bikes/city-bike`);
      await p.waitForFunction(() => window.kairos && window.kairos.load === true);
      const anonymous = await p.evaluate(() => window.kairos.anonymousId());
      const cookies = await ctx.cookies(site);
      expect(cookies.some((c) => c.name === 'kairos_aid' && c.value === anonymous), 'the anonymous id is a first-party cookie');
      await p.click('#add');
      await p.click('#login');
      // Leaving the page hands what is left to sendBeacon.
      await p.click('#next');
      await p.waitForURL(`${site}/thanks`);
      const found = await until('the contact', async () => {
        const r = await admin('GET', '/contacts?email=rider%40example.com');
        return r.items[0];
      });
      const events = await until('the events', async () => {
        const r = await admin('GET', `/contacts/${found.id}/events?limit=50`);
        const names = r.items.map((e) => e.event || e.type);
        return names.includes('Product Added') && names.includes('page') ? r.items : null;
      });
      const added = events.find((e) => e.event === 'Product Added');
      expect(added.properties.product_id === 'city-bike' && added.properties.cart_id === 'cart-7', JSON.stringify(added));
      expect(found.user_id === 'shopper-7', `user id ${found.user_id}`);
      expect((found.anonymous_ids || []).includes(anonymous), 'the visit before the login is the same person');
      await ctx.close();
    });

    await step('site: a delivery that fails is kept and sent again', async () => {
      const ctx = await browser.newContext();
      const p = await ctx.newPage();
      let refused = 0;
      // Kairos is unreachable for the first attempts: the events stay queued (localStorage) and go later.
      await p.route('**/v1/batch', (route) => {
        if (refused < 2) {
          refused += 1;
          return route.fulfill({ status: 503, body: '{}' });
        }
        return route.continue();
      });
      await p.goto(`${site}/bikes/retry`);
      await p.waitForFunction(() => window.kairos && window.kairos.load === true);
      const anonymous = await p.evaluate(() => window.kairos.anonymousId());
      await p.evaluate(() => window.kairos.track('Product Viewed', { product_id: 'city-bike' }));
      await until('two refused deliveries', async () => refused >= 2, 15_000);
      const queued = await p.evaluate(() => JSON.parse(localStorage.getItem('kairos_queue') || '[]').length);
      expect(queued > 0, 'what could not be sent is kept');
      await p.evaluate(() => window.kairos.flush());
      const contact = await until('the retried events', async () => {
        const r = await admin('GET', `/contacts?anonymous_id=${encodeURIComponent(anonymous)}`);
        return r.items[0];
      }, 15_000);
      const ev = await admin('GET', `/contacts/${contact.id}/events?limit=50`);
      expect(ev.items.some((e) => e.event === 'Product Viewed'), 'the event arrived after the retry');
      await ctx.close();
    });

    await step('site: nothing is sent before the visitor consents when the store asks for it', async () => {
      const ctx = await browser.newContext();
      const p = await ctx.newPage();
      let sent = 0;
      p.on('request', (r) => { if (r.url().includes('/v1/batch')) sent += 1; });
      await p.goto(`${site}/consent/bikes`);
      await p.waitForFunction(() => window.kairos && window.kairos.load === true);
      await p.click('#add');
      await p.waitForTimeout(2_500);
      expect(sent === 0, `${sent} requests before consent`);
      const anonymous = await p.evaluate(() => window.kairos.anonymousId());
      await p.click('#accept');
      await until('a delivery after consent', async () => sent > 0);
      const contact = await until('the consented visitor', async () => {
        const r = await admin('GET', `/contacts?anonymous_id=${encodeURIComponent(anonymous)}`);
        return r.items[0];
      });
      const r = await until('the held events', async () => {
        const ev = await admin('GET', `/contacts/${contact.id}/events?limit=50`);
        return ev.items.some((e) => e.event === 'Product Added') ? ev : null;
      });
      expect(r.items.some((e) => e.type === 'page'), 'the page view held before consent is sent after it');
      await ctx.close();
    });
  } finally {
    store.close();
  }
}
