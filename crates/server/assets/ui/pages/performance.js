// What messages earned, shown where marketers look (a campaign, a flow and its steps, a template): attributed
// revenue, conversions and revenue per recipient with their definitions, and charts of opens, clicks and revenue
// per day (the day still running drawn as "so far").
import { h, num, pct, money, panel, table } from '../lib.js';
import { lineChart } from '../charts.js';

const DAY_MS = 86_400_000;

/** How each message figure is counted, stated beside it. */
export const DEFINITIONS = {
  recipients: 'People sent at least one of these messages.',
  sent: 'Messages handed to the mail or SMS provider.',
  open_rate: 'Messages opened by a person (not a scanner or privacy proxy) / messages delivered.',
  click_rate: 'Messages with a click by a person / messages delivered.',
  conversions: 'Orders whose last email open or click (5 days) or SMS (1 day) before them was one of these messages.',
  revenue: 'The total of those orders.',
  revenue_per_recipient: 'Attributed revenue / recipients.',
};

/** The query of a report covering the last `days` days up to now. */
export function lastDays(days, now = new Date()) {
  return { from: new Date(now.getTime() - days * DAY_MS).toISOString(), to: new Date(now.getTime() + 60_000).toISOString() };
}

/** A figure card: label, value, and (optional) what it means. */
export function figure(key, label, value, definition, extra) {
  return h(
    'div',
    { class: 'card', 'data-kpi': key, role: 'listitem' },
    h('div', { class: 'label', text: label }),
    h('div', { class: 'value', text: value }),
    extra || null,
    definition ? h('div', { class: 'definition muted', text: definition }) : null,
  );
}

/** The revenue cards of a report item (a campaign, a flow, a template). */
export function revenueCards(n, currency) {
  return h(
    'div',
    { class: 'cards', role: 'list', 'aria-label': 'What these messages earned' },
    figure('recipients', 'Recipients', num(n?.recipients), DEFINITIONS.recipients),
    figure('open_rate', 'Open rate', pct(n?.open_rate), DEFINITIONS.open_rate),
    figure('click_rate', 'Click rate', pct(n?.click_rate), DEFINITIONS.click_rate),
    figure('conversions', 'Conversions', num(n?.conversions), DEFINITIONS.conversions),
    figure('attributed_revenue', 'Attributed revenue', money(n?.revenue, currency), DEFINITIONS.revenue),
    figure('revenue_per_recipient', 'Revenue per recipient', money(n?.revenue_per_recipient, currency), DEFINITIONS.revenue_per_recipient),
  );
}

/** Charts of opens, clicks and revenue per day from a report's `series`. */
export function activityCharts(series, currency, what) {
  const pts = (k) => (series || []).map((d) => ({ x: Date.parse(d.date), y: Number(d[k]) || 0, partial: d.partial }));
  const total = (k) => (series || []).reduce((a, d) => a + (Number(d[k]) || 0), 0);
  return h(
    'div',
    { class: 'grid two' },
    lineChart(pts('opened'), { label: `Messages of ${what} first opened per day: ${num(total('opened'))} in all.`, integer: true, half: true }),
    lineChart(pts('clicked'), { label: `Messages of ${what} first clicked per day: ${num(total('clicked'))} in all.`, integer: true, half: true }),
    lineChart(pts('revenue'), { label: `Revenue attributed to ${what} per day: ${money(total('revenue'), currency)} in all.`, yFormat: (v) => money(v, currency).replace(/\.00$/, ''), half: true }),
  );
}

/** A panel: the cards, then the charts, of a report with a `series`. */
export function performancePanel(report, currency, what, days) {
  return panel(
    `Performance, last ${days} days`,
    revenueCards(report, currency),
    report?.series ? activityCharts(report.series, currency, what) : null,
  );
}

/** A table of per-step (or per-variant) numbers, rows [{name, numbers}]. */
export function numbersTable(rows, currency, firstLabel) {
  return table(
    [
      { label: firstLabel, cell: (r) => r.name },
      { label: 'Sent', num: true, cell: (r) => num(r.numbers?.sent) },
      { label: 'Open rate', num: true, cell: (r) => pct(r.numbers?.open_rate) },
      { label: 'Click rate', num: true, cell: (r) => pct(r.numbers?.click_rate) },
      { label: 'Conversions', num: true, cell: (r) => num(r.numbers?.conversions) },
      { label: 'Revenue', num: true, cell: (r) => money(r.numbers?.revenue, currency) },
      { label: 'Per recipient', num: true, cell: (r) => money(r.numbers?.revenue_per_recipient, currency) },
    ],
    rows,
    { empty: 'Nothing sent in this period.' },
  );
}
