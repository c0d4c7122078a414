// Dashboard: store KPIs, revenue over time, flow performance, open tasks.
import { api, apiOptional, h, pageHead, panel, table, money, num, pct, select, serverNow, statusBadge, notice, workspaceSettings, dateTime, errorBox } from '../lib.js';
import { lineChart } from '../charts.js';

const PERIODS = [
  [7, 'Last 7 days'],
  [30, 'Last 30 days'],
  [90, 'Last 90 days'],
];
const DAY_MS = 86_400_000;
/** Pages of recent events read when the reports API is missing (1 000 events each). */
const FALLBACK_EVENT_PAGES = 10;

/** An order's amount as the server counts it: total, else revenue, else value, else the products. */
function orderValue(p = {}) {
  for (const k of ['total', 'revenue', 'value']) if (typeof p[k] === 'number') return p[k];
  if (Array.isArray(p.products)) return p.products.reduce((a, x) => a + (Number(x.price) || 0) * (Number(x.quantity) || 1), 0);
  return 0;
}

/** KPIs from the recent event log, for servers without /api/v1/reports. */
async function kpisFromEvents(from, to) {
  let cursor = null;
  let pages = 0;
  let orders = 0;
  let revenue = 0;
  const byDay = new Map();
  let reachedStart = false;
  do {
    const page = await api('/events', { query: { limit: 1000, cursor } });
    for (const e of page.items) {
      const t = Date.parse(e.timestamp);
      if (t < from) reachedStart = true;
      if (e.event !== 'Order Completed' || t < from || t > to) continue;
      const v = orderValue(e.properties);
      orders += 1;
      revenue += v;
      const day = new Date(t).toISOString().slice(0, 10);
      const d = byDay.get(day) || { date: day, revenue: 0, orders: 0 };
      d.revenue += v;
      d.orders += 1;
      byDay.set(day, d);
    }
    cursor = page.next_cursor;
    pages += 1;
  } while (cursor && pages < FALLBACK_EVENT_PAGES);
  const series = [...byDay.values()].sort((a, b) => a.date.localeCompare(b.date));
  return { revenue, orders, aov: orders ? revenue / orders : 0, series, partial: Boolean(cursor) && !reachedStart, fallback: true };
}

/** Flow numbers from each flow's stats, for servers without /api/v1/reports/flows. */
async function flowsFromStats() {
  const flows = (await api('/flows')).items || [];
  return Promise.all(
    flows.map(async (f) => {
      const st = await api(`/flows/${encodeURIComponent(f.id)}/stats`).catch(() => ({}));
      const steps = Object.values(st.steps || {});
      const sum = (k) => steps.reduce((a, x) => a + (Number(x[k]) || 0), 0);
      return { flow_id: f.id, name: f.name, status: f.status, entered: st.entered, active: st.active, sent: sum('sent'), conversions: st.converted };
    }),
  );
}

/** A KPI card: its value, the change against the previous period of the same length, and its definition. */
function card(key, label, value, definition, { now, before, format, lowerIsBetter = false, sub } = {}) {
  let delta = null;
  if (typeof now === 'number' && typeof before === 'number') {
    if (before === 0 && now === 0) delta = h('div', { class: 'delta muted', text: 'No change from the previous period' });
    else if (before === 0) delta = h('div', { class: 'delta muted', text: `${format(before)} in the previous period` });
    else {
      const change = (now - before) / Math.abs(before);
      const up = change > 0;
      const good = lowerIsBetter ? !up : up;
      const words = `${up ? '▲' : change < 0 ? '▼' : '='} ${num(Math.abs(change) * 100, 1)}% vs ${format(before)} in the previous period`;
      delta = h('div', { class: `delta ${change === 0 ? 'muted' : good ? 'up' : 'down'}`, text: words });
    }
  }
  return h(
    'div',
    { class: 'card', 'data-kpi': key },
    h('div', { class: 'label', text: label }),
    h('div', { class: 'value', text: value }),
    sub ? h('div', { class: 'small muted', text: sub }) : null,
    delta,
    h('div', { class: 'definition muted', text: definition }),
  );
}

function listGrowth(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return [num(v), null];
  if (typeof v !== 'object') return [String(v), null];
  const main = ['net', 'new', 'subscribed', 'growth'].find((k) => typeof v[k] === 'number');
  const sub = Object.entries(v)
    .filter(([k, x]) => k !== main && typeof x === 'number')
    .map(([k, x]) => `${k.replaceAll('_', ' ')} ${num(x, 2)}`)
    .join(' · ');
  return [main ? `${v[main] > 0 && main === 'net' ? '+' : ''}${num(v[main])}` : '—', sub || null];
}

/** What each store figure means (the server's definitions, in words). */
const KPI_DEFINITIONS = {
  revenue: 'The total of orders placed in the period.',
  orders: 'Orders placed in the period.',
  aov: 'Revenue / orders.',
  attributed_revenue: 'Revenue of orders whose last email open or click (within 5 days) or SMS (1 day) came from a flow or campaign.',
  attributed_orders: 'Orders attributed to a flow or campaign message, as above.',
  revenue_per_recipient: 'Attributed revenue / people sent at least one flow or campaign message in the period.',
  recovered_revenue: 'Attributed revenue whose message came from an abandoned-cart or checkout flow.',
  conversion_rate: 'People who placed an order / people who did anything on the site or in messages in the period (visits, views, carts, orders).',
  cart_abandonment_rate: 'Of the carts and checkouts started, those not followed by an order within 24 hours.',
  repeat_purchase_rate: 'Of the period’s buyers, those who have ordered at least twice.',
  list_growth: 'New email and SMS subscriptions minus unsubscribes in the period.',
};

export async function render(ctx) {
  const days = Number(ctx.query.get('days')) || 30;
  const to = serverNow();
  const from = new Date(to.getTime() - days * DAY_MS);
  const period = select(PERIODS, days, { id: 'period' });
  period.addEventListener('change', () => ctx.navigate(`/ui/?days=${period.value}`));
  const head = pageHead('Dashboard', h('div', { class: 'field' }, h('label', { for: 'period', text: 'Period' }), period));

  const settings = await workspaceSettings();
  const currency = settings?.store?.currency || 'USD';
  const range = { from: from.toISOString(), to: new Date(to.getTime() + 60_000).toISOString() };
  let kpis = null;
  let kpiError = null;
  try {
    kpis = await apiOptional('/reports/kpis', { query: range });
  } catch (e) {
    kpiError = e;
  }
  if (!kpis) kpis = await kpisFromEvents(from.getTime(), to.getTime() + 60_000);
  // The previous period of the same length, for comparison.
  const prevRange = { from: new Date(from.getTime() - days * DAY_MS).toISOString(), to: range.from };
  const prev = kpis.fallback ? null : await apiOptional('/reports/kpis', { query: prevRange }).catch(() => null);
  let flows = await apiOptional('/reports/flows', { query: range }).catch(() => null);
  const flowFallback = !flows;
  flows = flows ? flows.items || [] : await flowsFromStats();

  const growth = listGrowth(kpis.list_growth);
  const m = (v) => money(v, currency);
  const cmp = (k, format, lowerIsBetter = false) => ({ now: kpis[k], before: prev?.[k], format, lowerIsBetter });
  const cards = h(
    'div',
    { class: 'cards', role: 'list', 'aria-label': 'Key figures' },
    [
      card('revenue', 'Revenue', m(kpis.revenue), KPI_DEFINITIONS.revenue, cmp('revenue', m)),
      card('orders', 'Orders', num(kpis.orders), KPI_DEFINITIONS.orders, cmp('orders', num)),
      card('aov', 'Average order value', m(kpis.aov), KPI_DEFINITIONS.aov, cmp('aov', m)),
      kpis.attributed_revenue !== undefined ? card('attributed_revenue', 'Attributed revenue', m(kpis.attributed_revenue), KPI_DEFINITIONS.attributed_revenue, cmp('attributed_revenue', m)) : null,
      kpis.attributed_orders !== undefined ? card('attributed_orders', 'Conversions', num(kpis.attributed_orders), KPI_DEFINITIONS.attributed_orders, cmp('attributed_orders', num)) : null,
      kpis.revenue_per_recipient !== undefined ? card('revenue_per_recipient', 'Revenue per recipient', m(kpis.revenue_per_recipient), KPI_DEFINITIONS.revenue_per_recipient, { ...cmp('revenue_per_recipient', m), sub: `${num(kpis.message_recipients)} people messaged` }) : null,
      kpis.recovered_revenue !== undefined ? card('recovered_revenue', 'Recovered revenue', m(kpis.recovered_revenue), KPI_DEFINITIONS.recovered_revenue, cmp('recovered_revenue', m)) : null,
      kpis.conversion_rate !== undefined ? card('conversion_rate', 'Conversion rate', pct(kpis.conversion_rate), KPI_DEFINITIONS.conversion_rate, cmp('conversion_rate', pct)) : null,
      kpis.cart_abandonment_rate !== undefined ? card('cart_abandonment_rate', 'Cart abandonment', pct(kpis.cart_abandonment_rate), KPI_DEFINITIONS.cart_abandonment_rate, cmp('cart_abandonment_rate', pct, true)) : null,
      kpis.repeat_purchase_rate !== undefined ? card('repeat_purchase_rate', 'Repeat purchase rate', pct(kpis.repeat_purchase_rate), KPI_DEFINITIONS.repeat_purchase_rate, cmp('repeat_purchase_rate', pct)) : null,
      growth ? card('list_growth', 'List growth', growth[0], KPI_DEFINITIONS.list_growth, { sub: growth[1] }) : null,
    ]
      .filter(Boolean)
      .map((c) => {
        c.setAttribute('role', 'listitem');
        return c;
      }),
  );

  const series = (kpis.series || []).map((p) => ({ x: Date.parse(p.date || p.at), y: Number(p.revenue) || 0, partial: p.partial })).filter((p) => Number.isFinite(p.x));
  const total = money(kpis.revenue, currency);
  const chart = lineChart(series, {
    label: `Revenue per day, ${PERIODS.find(([d]) => d === days)?.[1]?.toLowerCase() || `last ${days} days`}: ${total} in total.`,
    yFormat: (v) => money(v, currency).replace(/\.00$/, ''),
  });

  const flowTable = table(
    flowFallback
      ? [
          { label: 'Flow', cell: (f) => h('a', { href: `/ui/flows/${encodeURIComponent(f.flow_id)}`, text: f.name }) },
          { label: 'Status', cell: (f) => statusBadge(f.status) },
          { label: 'Entered', num: true, cell: (f) => num(f.entered) },
          { label: 'In progress', num: true, cell: (f) => num(f.active) },
          { label: 'Sent', num: true, cell: (f) => num(f.sent) },
          { label: 'Conversions', num: true, cell: (f) => num(f.conversions) },
        ]
      : [
          { label: 'Flow', cell: (f) => h('a', { href: `/ui/flows/${encodeURIComponent(f.flow_id)}`, text: f.name || f.flow_id }) },
          { label: 'Sent', num: true, cell: (f) => num(f.sent) },
          { label: 'Opened', num: true, cell: (f) => num(f.opened) },
          { label: 'Clicked', num: true, cell: (f) => num(f.clicked) },
          { label: 'Conversions', num: true, cell: (f) => num(f.conversions) },
          { label: 'Revenue', num: true, cell: (f) => money(f.revenue, currency) },
        ],
    flows,
    { empty: 'No flows yet: install one from the flow library.' },
  );

  const tasks = await apiOptional('/tasks', { query: { status: 'open' } }).catch(() => null);
  const taskList = tasks?.items?.length
    ? h(
        'ul',
        {},
        tasks.items.slice(0, 8).map((t) =>
          h('li', {}, h('a', { href: `/ui/contacts/${t.contact_id}`, text: t.message || 'Task' }), h('span', { class: 'muted small', text: ` · ${dateTime(t.created_at)}` })),
        ),
      )
    : h('p', { class: 'muted', text: 'No open tasks.' });

  return h(
    'div',
    {},
    head,
    kpiError ? errorBox(kpiError) : null,
    kpis.fallback
      ? notice(
          kpis.partial
            ? 'Figures counted from the most recent events (the reports API is not available on this server); older orders are not included.'
            : 'Figures counted from the event log (the reports API is not available on this server).',
        )
      : null,
    cards,
    panel('Revenue over time', chart),
    panel('Flow performance', flowTable),
    panel('Open tasks', taskList),
  );
}
