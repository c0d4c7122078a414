/* kairos.js: the first-party tracker served by Kairos at /js/kairos.js (SPEC 16 "Site").
 * Segment-compatible calls (page, track, identify) sent to this Kairos's /v1/batch with the store's write key,
 * an anonymous id in a first-party cookie, batched delivery (sendBeacon when the page is hidden), retry of what
 * could not be sent, and nothing sent before consent when the store asks for it. No dependencies.
 *
 *   <script>!function(){var k=window.kairos=window.kairos||[];if(k.load)return;["page","track","identify",
 *   "reset","consent","addToCart","removeFromCart","viewCart","startCheckout"].forEach(function(m){k[m]=k[m]||
 *   function(){k.push([m].concat([].slice.call(arguments)))}})}();kairos.page();</script>
 *   <script async src="https://KAIROS/js/kairos.js" data-write-key="wk_..."></script>
 */
(function (w, d) {
  'use strict';
  var VERSION = '1.0.0';
  var COOKIE = 'kairos_aid';          // the anonymous id, first party, one year
  var STORE = 'kairos_queue';         // what could not be sent yet (localStorage)
  var BATCH_MAX = 20;                 // events per request
  var QUEUE_MAX = 200;                // events kept for retry; older ones are dropped
  var FLUSH_MS = 1000;                // how long calls wait to be sent together
  var RETRY_MAX = 6;                  // attempts of one event before it is dropped
  var stub = w.kairos;
  if (stub && stub.load) return;      // loaded twice: the first copy stays

  var script = d.currentScript || d.querySelector('script[src*="/js/kairos.js"]');
  var data = (script && script.dataset) || {};
  var config = w.kairosConfig || {};
  var writeKey = config.writeKey || data.writeKey || '';
  var origin = config.host || (script && script.src ? new URL(script.src, d.baseURI).origin : '');
  var endpoint = origin + '/v1/batch';
  var needsConsent = config.requireConsent === true || data.requireConsent === 'true';

  function store(key, value) {
    try {
      if (value === undefined) return JSON.parse(w.localStorage.getItem(key) || 'null');
      if (value === null) w.localStorage.removeItem(key); else w.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* private mode or full: memory only */ }
    return null;
  }

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    var b = new Uint8Array(16);
    (w.crypto || w.msCrypto).getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function cookie(name, value) {
    if (value === undefined) {
      var m = d.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
      return m ? decodeURIComponent(m[1]) : null;
    }
    var secure = w.location.protocol === 'https:' ? '; Secure' : '';
    d.cookie = name + '=' + encodeURIComponent(value) + '; Max-Age=' + (value ? 31536000 : 0) +
      '; Path=/; SameSite=Lax' + secure;
    return value;
  }

  var anonymousId = cookie(COOKIE) || cookie(COOKIE, uuid());
  var userId = store('kairos_user');
  var consent = store('kairos_consent');       // true, false, or null (not asked)
  var queue = store(STORE) || [];              // sent but not acknowledged, and waiting
  var held = [];                               // before consent: never sent, never stored
  var timer = null;

  function allowed() { return !needsConsent || consent === true; }

  function context() {
    return {
      page: { path: w.location.pathname, url: w.location.href, search: w.location.search,
        referrer: d.referrer, title: d.title },
      userAgent: w.navigator.userAgent,
      locale: w.navigator.language,
      library: { name: 'kairos.js', version: VERSION },
      timezone: (w.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone) || undefined
    };
  }

  function enqueue(type, fields) {
    var msg = { type: type, messageId: uuid(), anonymousId: anonymousId, timestamp: new Date().toISOString(),
      context: context() };
    if (userId) msg.userId = userId;
    for (var k in fields) if (fields[k] !== undefined) msg[k] = fields[k];
    if (!allowed()) {
      if (consent !== false) held.push(msg);   // kept in memory until consent; dropped if it is refused
      return;
    }
    queue.push(msg);
    if (queue.length > QUEUE_MAX) queue.splice(0, queue.length - QUEUE_MAX);
    store(STORE, queue);
    if (!timer) timer = w.setTimeout(flush, FLUSH_MS);
  }

  function body(batch) { return JSON.stringify({ batch: batch, writeKey: writeKey, sentAt: new Date().toISOString() }); }

  function flush() {
    timer = null;
    if (!queue.length || !allowed()) return;
    var batch = queue.slice(0, BATCH_MAX);
    w.fetch(endpoint, { method: 'POST', body: body(batch), keepalive: true, credentials: 'omit',
      headers: { 'Content-Type': 'text/plain' } })
      .then(function (r) {
        // 4xx other than 429 will not succeed later: the batch goes; anything else is tried again.
        if (r.ok || (r.status >= 400 && r.status < 500 && r.status !== 429)) return done(batch);
        retry(batch);
      }, function () { retry(batch); });
  }

  function done(batch) {
    queue = queue.filter(function (m) { return batch.indexOf(m) < 0; });
    store(STORE, queue);
    if (queue.length) timer = w.setTimeout(flush, 0);
  }

  function retry(batch) {
    batch.forEach(function (m) { m._attempts = (m._attempts || 0) + 1; });
    queue = queue.filter(function (m) { return (m._attempts || 0) < RETRY_MAX; });
    store(STORE, queue);
    var wait = Math.min(60000, 1000 * Math.pow(2, (batch[0] && batch[0]._attempts) || 1));
    if (queue.length && !timer) timer = w.setTimeout(flush, wait);
  }

  // When the page goes away, what is left is handed to the browser to send (sendBeacon survives unload).
  function beacon() {
    if (!queue.length || !allowed() || !w.navigator.sendBeacon) return;
    var batch = queue.slice(0, BATCH_MAX);
    var blob = new Blob([body(batch)], { type: 'text/plain' });
    if (w.navigator.sendBeacon(endpoint, blob)) done(batch);
  }
  d.addEventListener('visibilitychange', function () { if (d.visibilityState === 'hidden') beacon(); });
  w.addEventListener('pagehide', beacon);

  function product(p, quantity) {
    p = p || {};
    return { product_id: String(p.product_id || p.id || ''), sku: p.sku, name: p.name, price: p.price,
      quantity: quantity || p.quantity || 1, category: p.category, url: p.url, image_url: p.image_url };
  }

  var api = {
    load: true,
    VERSION: VERSION,
    page: function (name, properties) {
      if (typeof name === 'object') { properties = name; name = undefined; }
      enqueue('page', { name: name, properties: properties || {} });
    },
    track: function (event, properties) {
      if (!event) return;
      enqueue('track', { event: String(event), properties: properties || {} });
    },
    identify: function (id, traits) {
      if (typeof id === 'object' && id !== null) { traits = id; id = undefined; }
      if (id) { userId = String(id); store('kairos_user', userId); }
      enqueue('identify', { traits: traits || {} });
    },
    // Logging out: a new anonymous id, so the next visitor on this browser is someone else.
    reset: function () {
      userId = null; store('kairos_user', null);
      anonymousId = cookie(COOKIE, uuid());
    },
    // The visitor's answer to the store's consent banner: granted sends what was held, refused drops it.
    consent: function (granted) {
      consent = !!granted;
      store('kairos_consent', consent);
      var waiting = held; held = [];
      if (consent) waiting.forEach(function (m) { queue.push(m); });
      store(STORE, queue);
      if (consent) flush();
    },
    // Cart helpers for platforms that send no cart events (Segment's e-commerce spec names and properties).
    addToCart: function (p, quantity, cartId) {
      var props = product(p, quantity); props.cart_id = cartId;
      api.track('Product Added', props);
    },
    removeFromCart: function (p, quantity, cartId) {
      var props = product(p, quantity); props.cart_id = cartId;
      api.track('Product Removed', props);
    },
    viewCart: function (items, cartId) {
      api.track('Cart Viewed', { cart_id: cartId, products: (items || []).map(function (i) { return product(i); }) });
    },
    startCheckout: function (items, properties) {
      var props = properties || {};
      props.products = (items || []).map(function (i) { return product(i); });
      if (props.value === undefined) {
        props.value = props.products.reduce(function (s, i) { return s + (Number(i.price) || 0) * i.quantity; }, 0);
      }
      api.track('Checkout Started', props);
    },
    anonymousId: function () { return anonymousId; },
    flush: flush
  };

  // On-site forms (popups, flyouts, inline embeds): fetched once per page; their script loads only when there are
  // some. A known subscriber is not offered forms that hide from subscribers.
  function forms() {
    if (config.forms === false || data.forms === 'false' || !writeKey || !w.fetch) return;
    var q = '?writeKey=' + encodeURIComponent(writeKey);
    if (allowed()) q += '&anonymousId=' + encodeURIComponent(anonymousId) + (userId ? '&userId=' + encodeURIComponent(userId) : '');
    w.fetch(origin + '/v1/site/forms' + q, { credentials: 'omit' })
      .then(function (r) { return r.ok ? r.json() : { forms: [] }; })
      .then(function (j) {
        if (!j.forms || !j.forms.length) return;
        api._forms = j.forms;
        var s = d.createElement('script');
        s.async = true;
        s.src = origin + '/js/kairos-forms.js?v=' + VERSION;
        (d.head || d.body).appendChild(s);
      }, function () { /* no forms this time */ });
  }

  w.kairos = api;
  // Calls made before the script loaded (the snippet's stub), in order.
  if (stub && stub.length) stub.slice().forEach(function (c) { if (api[c[0]]) api[c[0]].apply(api, c.slice(1)); });
  if (queue.length && allowed()) timer = w.setTimeout(flush, 0);
  forms();
})(window, document);
