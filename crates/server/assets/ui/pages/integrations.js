// Integrations: connect the store's platform (Shopify, WooCommerce, Magento), see where it posts webhooks and how
// they fare. Tokens and secrets are never shown back: a saved one reads "saved" and is kept unless replaced.
import { api, h, pageHead, panel, field, busy, toast, kv, badge, dateTime, plural } from '../lib.js';

const PLATFORMS = {
  shopify: {
    name: 'Shopify',
    help: 'A custom app of your shop: its Admin API access token, and the signing secret Shopify shows under Settings → Notifications → Webhooks.',
    fields: [
      ['shop_domain', 'Shop domain', 'text', 'velo.myshopify.com'],
      ['access_token', 'Admin API access token', 'password', 'shpat_…'],
      ['webhook_secret', 'Webhook signing secret', 'password', ''],
    ],
  },
  woocommerce: {
    name: 'WooCommerce',
    help: 'REST API keys (WooCommerce → Settings → Advanced → REST API) and the secret you give each webhook.',
    fields: [
      ['site_url', 'Site address', 'url', 'https://velo.example'],
      ['consumer_key', 'Consumer key', 'password', 'ck_…'],
      ['consumer_secret', 'Consumer secret', 'password', 'cs_…'],
      ['webhook_secret', 'Webhook secret', 'password', ''],
    ],
  },
  magento: {
    name: 'Magento / Adobe Commerce',
    help: 'The base address of the store and an integration access token (System → Integrations).',
    fields: [
      ['base_url', 'Base address', 'url', 'https://velo.example'],
      ['access_token', 'Integration access token', 'password', ''],
    ],
  },
};

/** How the platform's webhooks have fared, in words. */
function health(c) {
  const w = c.webhooks ?? {};
  const last = w.last_received_at ? `last received ${dateTime(w.last_received_at)}` : 'none received yet';
  const lines = [`${plural(w.received ?? 0, 'webhook')} taken in since the server started, ${last}.`];
  if (w.rejected) lines.push(`${plural(w.rejected, 'webhook')} refused; the last: “${w.last_error}” (${dateTime(w.last_error_at)}).`);
  if (w.tested_at) lines.push(w.test_error ? `Last test (${dateTime(w.tested_at)}) failed: ${w.test_error}` : `Last test (${dateTime(w.tested_at)}) worked.`);
  return h('div', {}, lines.map((t) => h('p', { text: t })));
}

function connection(c, ctx) {
  const p = PLATFORMS[c.platform];
  const inputs = p.fields.map(([name, label, type, placeholder]) => {
    const saved = type === 'password' && c[`${name}_set`];
    const input = h('input', { type, name, autocomplete: 'off', value: type === 'password' ? '' : c[name] ?? '', placeholder: saved ? 'saved (leave empty to keep)' : placeholder });
    return [name, type, saved, field(label, input), input];
  });
  const errors = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', text: c.connected ? `Save ${p.name} connection` : `Connect ${p.name}` });
  const form = h('form', {}, h('p', { class: 'muted', text: p.help }), h('div', { class: 'grid two' }, inputs.map((i) => i[3])), errors, save);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(
      save,
      async () => {
        const body = {};
        // A secret left empty keeps the saved one (the server fills it in).
        for (const [name, , , , input] of inputs) {
          const v = input.value.trim();
          if (v !== '') body[name] = v;
        }
        await api(`/integrations/${c.platform}`, { method: 'PUT', body });
        toast(`${p.name} connected`);
        ctx.navigate('/ui/integrations', { replace: true });
      },
      errors,
    );
  });
  const parts = [form];
  if (c.connected) {
    const disconnect = h('button', { type: 'button', class: 'secondary', text: `Disconnect ${p.name}` });
    disconnect.addEventListener('click', () =>
      busy(disconnect, async () => {
        await api(`/integrations/${c.platform}`, { method: 'DELETE' });
        toast(`${p.name} disconnected`);
        ctx.navigate('/ui/integrations', { replace: true });
      }, errors),
    );
    const test = h('button', { type: 'button', class: 'secondary', text: `Test the ${p.name} connection` });
    const result = h('p', { 'aria-live': 'polite' });
    test.addEventListener('click', () =>
      busy(test, async () => {
        const r = await api(`/integrations/${c.platform}/test`, { method: 'POST', body: {} });
        result.replaceChildren(r.ok ? badge('working', 'good') : h('span', { class: 'form-error', text: r.error }));
        if (r.ok) result.append(` ${p.name} answered with the saved credentials.`);
      }, errors),
    );
    parts.push(h('div', { class: 'actions' }, test, disconnect), result);
  }
  if (c.webhook_url) {
    parts.push(kv([['Webhook address', h('code', { text: c.webhook_url })]]));
    if (c.connected) parts.push(health(c));
  }
  const title = h('span', {}, `${p.name} `, c.connected ? badge('connected', 'good') : badge('not connected', ''));
  return h('section', { class: 'panel', 'data-platform': c.platform }, h('h2', {}, title), parts);
}

export async function render(ctx) {
  const all = await api('/integrations');
  return h(
    'div',
    {},
    pageHead('Integrations'),
    panel(
      null,
      h('p', {}, 'Connect your store so orders, checkouts, customers and products reach Kairos by themselves. Register the webhook address shown under each platform in its admin; Kairos checks every webhook’s signature with the secret you enter here.'),
    ),
    all.items.map((c) => connection(c, ctx)),
  );
}
