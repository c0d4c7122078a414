// Campaigns: the list, and one campaign's setup, progress and lifecycle (edit, schedule, cancel, pause, resume,
// duplicate, delete). Composing is `campaign-compose.js`.
import { api, apiOptional, h, pageHead, panel, table, num, pct, money, dateTime, statusBadge, busy, toast, kv, notice, workspaceSettings, confirmDialog, serverNow } from '../lib.js';
import { confirmSchedule } from './campaign-compose.js';
import { lastDays, performancePanel, numbersTable } from './performance.js';
import { templateName, duration } from './words.js';

/** What an A/B test's winner is picked by, in words. */
const AB_METRIC = { opens: 'Open rate', clicks: 'Click rate', revenue: 'Revenue per recipient' };

export { compose, edit } from './campaign-compose.js';

const UNAVAILABLE = 'Campaigns are not available on this server yet.';

/** Reports cover at most a year: the campaigns list shows what each campaign earned over the last one. */
const REPORT_DAYS = 365;

export async function list() {
  const r = await apiOptional('/campaigns');
  const [report, settings] = await Promise.all([apiOptional('/reports/campaigns', { query: lastDays(REPORT_DAYS) }).catch(() => null), workspaceSettings()]);
  const currency = settings?.store?.currency || 'USD';
  const earned = Object.fromEntries((report?.items || []).map((c) => [c.campaign_id, c]));
  const head = pageHead('Campaigns', r ? h('a', { href: '/ui/campaigns/new', class: 'button', text: 'New campaign' }) : null);
  if (!r) return h('div', {}, head, notice(UNAVAILABLE));
  return h(
    'div',
    {},
    head,
    panel(
      null,
      table(
        [
          { label: 'Campaign', cell: (c) => h('a', { href: `/ui/campaigns/${encodeURIComponent(c.id)}`, text: c.name }) },
          { label: 'Status', cell: (c) => statusBadge(c.status) },
          { label: 'Channel', cell: (c) => ({ email: 'Email', sms: 'SMS', chat: 'Chat' })[c.channel] || '—' },
          { label: 'When', cell: (c) => when(c) },
          { label: 'Sent', num: true, cell: (c) => num(c.stats?.sent) },
          { label: 'Opened', num: true, cell: (c) => num(c.stats?.opened) },
          { label: 'Clicked', num: true, cell: (c) => num(c.stats?.clicked) },
          { label: 'Conversions', num: true, cell: (c) => num(earned[c.id]?.conversions ?? 0) },
          { label: 'Revenue', num: true, cell: (c) => money(earned[c.id]?.revenue ?? 0, currency) },
          { label: 'Per recipient', num: true, cell: (c) => money(earned[c.id]?.revenue_per_recipient ?? 0, currency) },
        ],
        r.items || [],
        { empty: 'No campaigns yet.' },
      ),
    ),
  );
}

/** When a campaign went, goes or would go out: the send time once known, else its schedule in words. */
function when(c) {
  if (c.status === 'sent' && (c.finished_at || c.scheduled_at)) return `Sent ${dateTime(c.finished_at || c.scheduled_at)}`;
  if (c.status === 'sending' && c.scheduled_at) return `Sending since ${dateTime(c.scheduled_at)}`;
  if (c.schedule?.type) return describeSchedule(c.schedule);
  return c.scheduled_at ? dateTime(c.scheduled_at) : describeSchedule(c.schedule);
}

function describeSchedule(s = {}) {
  switch (s?.type) {
    case 'now':
      return 'Right away';
    case 'at':
      return dateTime(s.at);
    case 'local_time':
      return `${s.date} at ${s.time}, each contact's local time`;
    case 'best_hour':
      return `${s.date}, at each contact's best hour`;
    default:
      return 'Not chosen yet';
  }
}

/** The buttons a campaign's status allows, each doing what it says. */
function lifecycleActions(c, ctx, errors) {
  const id = encodeURIComponent(c.id);
  const reload = (path = `/ui/campaigns/${id}`) => ctx.navigate(path, { replace: path === `/ui/campaigns/${id}` });
  const button = (text, cls, onClick) => {
    const b = h('button', { type: 'button', class: cls, text });
    b.addEventListener('click', () => onClick(b));
    return b;
  };
  const post = (what, done) => (b) =>
    busy(b, async () => {
      await api(`/campaigns/${id}/${what}`, { method: 'POST' });
      toast(done);
      reload();
    }, errors);
  const out = [];
  if (['draft', 'scheduled'].includes(c.status)) out.push(h('a', { href: `/ui/campaigns/${id}/edit`, class: 'button secondary', text: 'Edit' }));
  if (c.status === 'draft') {
    out.push(button('Schedule…', '', async (b) => {
      if (await confirmSchedule(c, b)) {
        toast(`“${c.name}” is scheduled`);
        reload();
      }
    }));
  }
  if (c.status === 'scheduled') {
    out.push(button('Cancel campaign…', 'danger', (b) =>
      confirmDialog({
        title: `Cancel “${c.name}”?`,
        body: ['Nobody will be sent to. The campaign stays in the list as cancelled; duplicate it to send it another time.'],
        confirmText: 'Cancel campaign',
        cancelText: 'Keep it scheduled',
        danger: true,
        opener: b,
        action: () => api(`/campaigns/${id}/cancel`, { method: 'POST' }),
      }).then((ok) => ok && (toast('Campaign cancelled'), reload())),
    ));
  }
  if (c.status === 'sending') out.push(button('Pause sending', 'secondary', post('pause', 'Paused: nothing more goes out until you resume')));
  if (c.status === 'paused') out.push(button('Resume sending', '', post('resume', 'Resumed')));
  out.push(button('Duplicate', 'secondary', (b) =>
    busy(b, async () => {
      const copy = await api(`/campaigns/${id}/duplicate`, { method: 'POST' });
      toast(`Created “${copy.name}”, a draft`);
      reload(`/ui/campaigns/${encodeURIComponent(copy.id)}/edit`);
    }, errors),
  ));
  if (c.status === 'draft') {
    out.push(button('Delete…', 'danger', (b) =>
      confirmDialog({
        title: `Delete “${c.name}”?`,
        body: ['The draft is removed for good.'],
        confirmText: 'Delete draft',
        danger: true,
        opener: b,
        action: () => api(`/campaigns/${id}`, { method: 'DELETE' }),
      }).then((ok) => ok && (toast('Draft deleted'), ctx.navigate('/ui/campaigns'))),
    ));
  }
  return out;
}

export async function detail(ctx) {
  const id = ctx.params[0];
  const c = await apiOptional(`/campaigns/${encodeURIComponent(id)}`);
  if (!c) return h('div', {}, pageHead('Campaign'), notice('No such campaign (or campaigns are not available on this server).'));
  // The report covers the days since the campaign went out (a day before, for time zones), at most a year.
  const start = Date.parse(c.scheduled_at || c.created_at);
  const days = Number.isFinite(start) ? Math.min(REPORT_DAYS, Math.max(7, Math.ceil((serverNow().getTime() - start) / 86_400_000) + 1)) : REPORT_DAYS;
  const [settings, segments, templates, report] = await Promise.all([
    workspaceSettings(),
    apiOptional('/segments'),
    apiOptional('/templates'),
    apiOptional(`/reports/campaigns/${encodeURIComponent(id)}`, { query: lastDays(days, serverNow()) }).catch(() => null),
  ]);
  const currency = settings?.store?.currency || 'USD';
  const topicNames = Object.fromEntries((settings.topics || []).map((t) => [t.id, t.name]));
  const segName = Object.fromEntries((segments?.items || []).flatMap((s) => [[s.id, s.name], [s.name, s.name]]));
  const tplName = Object.fromEntries((templates?.items || []).map((t) => [t.id, templateName(t)]));
  const names = (list) => (list || []).map((s) => segName[s] || 'a deleted segment').join(', ') || 'none';
  const errors = h('div');
  const refresh = h('a', { href: `/ui/campaigns/${encodeURIComponent(c.id)}`, class: 'button secondary', text: 'Refresh' });
  const st = c.stats || {};
  const cards = [
    ['Audience', c.recipients],
    ['Sent', st.sent],
    ['Delivered', st.delivered],
    ['Opened', st.opened],
    ['Clicked', st.clicked],
    ['Skipped', st.skipped],
    ['Deferred', st.deferred],
    ['Failed', st.failed],
    ['Unsubscribed', st.unsubscribed],
    ['Still to send', st.pending],
    ['Waiting for the A/B winner', c.ab ? st.waiting_for_winner : null],
  ].filter(([, v]) => v !== undefined && v !== null);
  const statusWords = {
    draft: 'A draft: nothing is sent until you schedule it.',
    scheduled: 'Scheduled: you can still edit or cancel it.',
    sending: 'Sending now.',
    paused: 'Paused: nothing more goes out until you resume it.',
    sent: `Sent${c.finished_at ? `, finished ${dateTime(c.finished_at)}` : ''}.`,
    cancelled: 'Cancelled: nobody was sent to.',
  };
  const ab = Array.isArray(c.ab_results?.variants) ? c.ab_results.variants : null;
  return h(
    'div',
    {},
    pageHead(c.name, statusBadge(c.status), ...lifecycleActions(c, ctx, errors), refresh, h('a', { href: '/ui/campaigns', class: 'button secondary', text: 'All campaigns' })),
    h('p', { class: 'muted', text: statusWords[c.status] || '' }),
    errors,
    h('div', { class: 'cards' }, cards.map(([k, v]) => h('div', { class: 'card' }, h('div', { class: 'label', text: k }), h('div', { class: 'value', text: num(v) })))),
    report ? performancePanel(report, currency, 'this campaign', days) : null,
    report && Object.keys(report.variants || {}).length
      ? panel('By A/B variant', numbersTable(Object.entries(report.variants).map(([v, n]) => ({ name: tplName[c.ab?.variants?.[Number(v)]?.template] || `Variant ${Number(v) + 1}`, numbers: n })), currency, 'Variant'))
      : null,
    panel(
      'Setup',
      kv([
        ['Channel', ({ email: 'Email', sms: 'SMS', chat: 'Chat' })[c.channel] || c.channel],
        ['Template', c.template ? tplName[c.template] || c.template : '—'],
        ['Sent to', names(c.segments)],
        ['Leaving out', names(c.exclude_segments)],
        ['When', when(c)],
        ['Throttle', c.throttle_per_minute ? `${num(c.throttle_per_minute)} per minute` : 'none'],
        ['Smart sending', c.smart_sending === false ? 'off' : 'on'],
        ['Priority', String(c.priority ?? 20)],
        ['Topic', c.topic ? topicNames[c.topic] || c.topic : 'none'],
        ['Scheduled', dateTime(c.scheduled_at)],
      ]),
    ),
    c.ab
      ? panel(
          'A/B test',
          kv([['Test share', pct(c.ab.test_share)], ['Winner picked by', AB_METRIC[c.ab.metric] || c.ab.metric], ['Wait before picking', duration(c.ab.wait)]]),
          ab
            ? table(
                [
                  { label: 'Variant', cell: (r) => tplName[r.template] || r.template },
                  { label: 'Sent', num: true, cell: (r) => num(r.sent) },
                  { label: AB_METRIC[c.ab.metric] || c.ab.metric, num: true, cell: (r) => (c.ab.metric === 'revenue' ? num(r.score, 2) : pct(r.score)) },
                  { label: 'Chance the leader is really better', num: true, cell: (r) => (r.confidence_leader_better == null ? 'Leader' : pct(r.confidence_leader_better)) },
                ],
                ab,
              )
            : h('p', { class: 'muted', text: 'Results appear once the test variants are sent.' }),
        )
      : null,
  );
}
