// Integrations: connect the store's platform (Shopify, WooCommerce, Magento), see where it posts webhooks and how
// they fare. Tokens and secrets are never shown back: a saved one reads "saved" and is kept unless replaced.
import { api, h, pageHead, panel, field, busy, toast, kv, badge, dateTime, plural, num, nextId, localTime, errorBox } from '../lib.js';

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

/** What each platform's backfill reads, in order (crates/server/src/backfill/sources.rs). */
const BACKFILL_RESOURCES = {
  shopify: ['products', 'customers', 'orders'],
  woocommerce: ['products', 'customers', 'orders'],
  magento: ['products', 'customers', 'orders', 'creditmemos'],
};
const RESOURCE_WORDS = { products: 'products', customers: 'customers', orders: 'orders', creditmemos: 'credit memos' };
/** How often a running backfill's progress is asked for. */
const BACKFILL_POLL_MS = 1500;

const resourceWords = (r) => RESOURCE_WORDS[r] || String(r || 'records');
const capital = (t) => t.charAt(0).toUpperCase() + t.slice(1);

/** The backfill's status in words. */
function backfillStatus(p) {
  if (p.status === 'running') return `Running: reading ${resourceWords(p.resource)}…`;
  if (p.status === 'done') return 'Done';
  if (p.status === 'failed') return `Stopped: ${p.error || 'an unknown error'}`;
  return 'Never run';
}

/** Whether every resource the platform reads has its total: only then is `total` the whole backfill's. */
function totalKnown(p, platform) {
  return p.total !== null && p.total !== undefined && BACKFILL_RESOURCES[platform].every((r) => p.counts?.[r]?.total != null);
}

/** The progress bar and its text: `imported` of `total` when known, an indeterminate bar while counting. */
function backfillBar(p, platform) {
  const known = totalKnown(p, platform);
  if (p.status === 'never' || (p.status === 'failed' && !known)) return null;
  const bar = h('progress', { 'aria-label': 'Records imported' });
  let words;
  if (known) {
    bar.max = Math.max(p.total, 1);
    bar.value = Math.min(p.imported, bar.max);
    words = `${num(p.imported)} of ${num(p.total)} records`;
  } else if (p.status === 'done') {
    bar.max = 1;
    bar.value = 1;
    words = plural(p.imported, 'record');
  } else {
    words = `${plural(p.imported, 'record')} so far`;
  }
  return h('div', { class: 'progress-line' }, bar, h('span', { class: 'small', 'data-testid': 'backfill-total', text: words }));
}

/** Records read per resource. */
function backfillCounts(p, platform) {
  return kv(
    BACKFILL_RESOURCES[platform].map((r) => {
      const c = p.counts?.[r];
      const reading = p.status === 'running' && p.resource === r;
      let v;
      if (c) v = `${num(c.imported)}${c.total != null ? ` of ${num(c.total)}` : ''}${reading ? ' (reading…)' : ''}`;
      else v = reading ? 'reading…' : p.status === 'running' ? 'not yet' : '—';
      return [capital(resourceWords(r)), v];
    }),
  );
}

/** Erased people left out, refused records, and when it ran. */
function backfillNotes(p) {
  const notes = [];
  if (p.erased) notes.push(h('p', { class: 'small', text: `${plural(p.erased, 'record')} left out: they name people whose data was erased.` }));
  if (p.rejected) {
    const first = p.first_rejection ? ` The first: ${p.first_rejection}.` : '';
    notes.push(h('p', { class: 'small', text: `${plural(p.rejected, 'record')} skipped: not in the shape the platform documents.${first}` }));
  }
  if (p.started_at) {
    notes.push(h('p', { class: 'small muted' }, 'Started ', localTime(p.started_at), p.updated_at ? [' · last progress ', localTime(p.updated_at)] : null));
  }
  return notes;
}

/**
 * The backfill of a connected platform: its records through the platform's API (Shopify and WooCommerce once,
 * for the history webhooks never sent; Magento, which sends no webhooks, what changed since the last sync).
 * While it runs, the progress is asked for every BACKFILL_POLL_MS until it ends or the page is left.
 */
function backfillSection(c, ctx) {
  const p0 = c.backfill || { status: 'never' };
  const magento = c.platform === 'magento';
  const name = PLATFORMS[c.platform].name;
  const headingId = nextId('bf');
  const status = h('p', { role: 'status', class: 'backfill-status', 'data-testid': 'backfill-status' });
  const body = h('div');
  const errors = h('div', { 'aria-live': 'polite' });
  const go = h('button', { type: 'button' });
  const hint = magento
    ? 'Magento sends no webhooks: Kairos reads what changed every 5 minutes. “Sync now” reads it at once.'
    : `Read the products, customers and orders already in ${name}: webhooks only bring what happens from now on. Importing again stores nothing twice, and people whose data was erased are left out.`;
  let timer = null;
  let last = p0;

  function draw(p) {
    const was = last.status;
    last = p;
    status.textContent = backfillStatus(p);
    status.className = `backfill-status ${p.status === 'failed' ? 'form-error' : p.status === 'done' ? 'form-ok' : ''}`;
    // A stored "running" this server is not doing (the command line's `kairos import`, or one that died) can be
    // continued here: the same records are never counted twice.
    const elsewhere = p.status === 'running' && p.running === false;
    body.replaceChildren(
      h(
        'div',
        {},
        elsewhere ? h('p', { class: 'small muted', text: 'Not running in this server: it may be running from the command line (kairos import), or it was interrupted.' }) : null,
        backfillBar(p, c.platform),
        p.status === 'never' ? null : backfillCounts(p, c.platform),
        backfillNotes(p),
      ),
    );
    const stopped = p.status === 'failed' || elsewhere;
    go.textContent = stopped ? 'Continue' : magento ? 'Sync now' : 'Import history';
    go.disabled = p.status === 'running' && !elsewhere;
    if (was === 'running' && p.status === 'done') toast(magento ? `${name} synced` : `${name} history imported`);
  }

  async function poll() {
    timer = null;
    if (!ctx.alive()) return;
    try {
      const p = await api(`/integrations/${c.platform}/backfill`);
      if (!ctx.alive()) return;
      errors.replaceChildren();
      draw(p);
    } catch (e) {
      if (!ctx.alive()) return;
      errors.replaceChildren(errorBox(e));
    }
    schedule();
  }
  function schedule() {
    if (!timer && last.status === 'running' && ctx.alive()) timer = setTimeout(poll, BACKFILL_POLL_MS);
  }

  go.addEventListener('click', () => {
    go.disabled = true;
    busy(
      null,
      async () => {
        try {
          draw(await api(`/integrations/${c.platform}/backfill`, { method: 'POST', body: {} }));
        } catch (e) {
          if (e.status !== 409) throw e;
          toast(`A ${name} import is already running`);
          draw(await api(`/integrations/${c.platform}/backfill`));
        }
        schedule();
      },
      errors,
    ).finally(() => {
      if (last.status !== 'running') go.disabled = false;
    });
  });

  draw(p0);
  schedule();
  return h(
    'section',
    { class: 'backfill', 'aria-labelledby': headingId, 'data-testid': 'backfill' },
    h('h3', { id: headingId, text: magento ? 'Sync' : 'Import history' }),
    h('p', { class: 'muted small', text: hint }),
    status,
    body,
    errors,
    h('div', { class: 'actions' }, go),
  );
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
  if (c.connected) parts.push(backfillSection(c, ctx));
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
      h('p', {}, 'Shopify’s privacy requests (a customer asking for their data, or to be erased) are answered by Kairos and listed under ', h('a', { href: '/ui/privacy', text: 'Privacy requests and audit log' }), '.'),
    ),
    all.items.map((c) => connection(c, ctx)),
  );
}
