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

function card(key, label, value, sub) {
  return h(
    'div',
    { class: 'card', 'data-kpi': key },
    h('div', { class: 'label', text: label }),
    h('div', { class: 'value', text: value }),
    sub ? h('div', { class: 'small muted', text: sub }) : null,
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
  let flows = await apiOptional('/reports/flows', { query: range }).catch(() => null);
  const flowFallback = !flows;
  flows = flows ? flows.items || [] : await flowsFromStats();

  const growth = listGrowth(kpis.list_growth);
  const cards = h(
    'div',
    { class: 'cards', role: 'list', 'aria-label': 'Key figures' },
    [
      card('revenue', 'Revenue', money(kpis.revenue, currency)),
      card('orders', 'Orders', num(kpis.orders)),
      card('aov', 'Average order value', money(kpis.aov, currency)),
      kpis.conversion_rate !== undefined ? card('conversion_rate', 'Conversion rate', pct(kpis.conversion_rate)) : null,
      kpis.cart_abandonment_rate !== undefined ? card('cart_abandonment_rate', 'Cart abandonment', pct(kpis.cart_abandonment_rate)) : null,
      kpis.recovered_revenue !== undefined ? card('recovered_revenue', 'Recovered revenue', money(kpis.recovered_revenue, currency)) : null,
      kpis.repeat_purchase_rate !== undefined ? card('repeat_purchase_rate', 'Repeat purchase rate', pct(kpis.repeat_purchase_rate)) : null,
      growth ? card('list_growth', 'List growth', growth[0], growth[1]) : null,
    ]
      .filter(Boolean)
      .map((c) => {
        c.setAttribute('role', 'listitem');
        return c;
      }),
  );

  const series = (kpis.series || []).map((p) => ({ x: Date.parse(p.date || p.at), y: Number(p.revenue) || 0 })).filter((p) => Number.isFinite(p.x));
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
