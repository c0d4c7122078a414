// Campaigns: the list, composing one (segments, exclusions, schedule, throttle, A/B test) and its progress.
import { api, apiOptional, h, pageHead, panel, table, num, pct, dateTime, statusBadge, field, select, busy, toast, kv, notice, brief, nextId, workspaceSettings } from '../lib.js';

const UNAVAILABLE = 'Campaigns are not available on this server yet.';

export async function list() {
  const r = await apiOptional('/campaigns');
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
          { label: 'Channel', cell: (c) => c.channel || '—' },
          { label: 'Sent', num: true, cell: (c) => num(c.stats?.sent) },
          { label: 'Opened', num: true, cell: (c) => num(c.stats?.opened) },
          { label: 'Clicked', num: true, cell: (c) => num(c.stats?.clicked) },
          { label: 'Created', cell: (c) => dateTime(c.created_at) },
        ],
        r.items || [],
        { empty: 'No campaigns yet.' },
      ),
    ),
  );
}

function checkboxes(legend, name, segments) {
  const boxes = segments.map((s) => h('input', { type: 'checkbox', name, value: s.id }));
  const set = h(
    'fieldset',
    {},
    h('legend', { text: legend }),
    segments.length
      ? boxes.map((b, i) => h('label', { class: 'check' }, b, `${segments[i].name} (${num(segments[i].size)})`))
      : h('p', { class: 'muted', text: 'No segments yet.' }),
  );
  return { set, values: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

export async function compose(ctx) {
  const probe = await apiOptional('/campaigns');
  if (!probe) return h('div', {}, pageHead('New campaign'), notice(UNAVAILABLE));
  const [segments, templates, settings] = await Promise.all([api('/segments'), api('/templates'), api('/settings')]);
  // A topic: people who left it on the preference page are skipped.
  const topic = select([['', 'None: everyone subscribed'], ...(settings.topics || []).map((t) => [t.id, t.name])], '', { name: 'topic' });
  const segs = segments.items || [];
  const tpls = (templates.items || []).filter((t) => ['email', 'sms'].includes(t.channel));
  const name = h('input', { type: 'text', name: 'name', required: true });
  const channel = select(['email', 'sms'], 'email', { name: 'channel' });
  const template = h('select', { name: 'template' });
  const templateB = h('select', { name: 'template_b' });
  const fillTemplates = () => {
    const opts = tpls.filter((t) => t.channel === channel.value);
    for (const sel of [template, templateB]) {
      sel.replaceChildren(...(opts.length ? opts.map((t) => h('option', { value: t.id, text: `${t.name || t.id} (${t.id})` })) : [h('option', { value: '', text: 'No template for this channel' })]));
    }
    if (opts.length > 1) templateB.selectedIndex = 1;
  };
  channel.addEventListener('change', fillTemplates);
  fillTemplates();
  const include = checkboxes('Send to segments', 'segments', segs);
  const exclude = checkboxes('Leave out segments', 'exclude_segments', segs);

  const radioName = nextId('sched');
  const kinds = [
    ['now', 'Now'],
    ['at', 'At a time'],
    ['local_time', "At a local time in each contact's time zone"],
    ['best_hour', "At each contact's best hour"],
  ];
  const radios = kinds.map(([v]) => h('input', { type: 'radio', name: radioName, value: v, checked: v === 'now' }));
  const at = h('input', { type: 'datetime-local', name: 'at' });
  const day = h('input', { type: 'date', name: 'date' });
  const time = h('input', { type: 'time', name: 'time', value: '10:00' });
  const atField = field('Send at (your time zone)', at);
  const dayField = field('Date', day);
  const timeField = field('Local time', time);
  const kind = () => radios.find((r) => r.checked)?.value || 'now';
  const showSchedule = () => {
    const k = kind();
    atField.hidden = k !== 'at';
    dayField.hidden = !['local_time', 'best_hour'].includes(k);
    timeField.hidden = k !== 'local_time';
  };
  radios.forEach((r) => r.addEventListener('change', showSchedule));
  showSchedule();
  const schedule = h('fieldset', {}, h('legend', { text: 'When' }), radios.map((r, i) => h('label', { class: 'check' }, r, kinds[i][1])), atField, dayField, timeField);

  const throttle = h('input', { type: 'number', name: 'throttle_per_minute', min: '1', step: '1', placeholder: 'no limit' });
  const smart = h('input', { type: 'checkbox', name: 'smart_sending', checked: true });
  const priority = h('input', { type: 'number', name: 'priority', min: '0', max: '100', step: '1', inputmode: 'numeric', placeholder: '20' });
  const abOn = h('input', { type: 'checkbox', name: 'ab' });
  const share = h('input', { type: 'number', name: 'test_share', min: '0.01', max: '0.9', step: '0.01', value: '0.2' });
  const metric = select([['opens', 'Opens'], ['clicks', 'Clicks'], ['revenue', 'Revenue']], 'clicks', { name: 'metric' });
  const wait = h('input', { type: 'text', name: 'wait', value: '4h' });
  const abFields = h('div', { class: 'grid two', hidden: true }, field('Variant B template', templateB), field('Test share (fraction of the audience)', share), field('Pick the winner by', metric), field('Wait before picking', wait, 'A duration: 4h, 1d'));
  abOn.addEventListener('change', () => (abFields.hidden = !abOn.checked));

  const body = () => {
    const k = kind();
    const sched =
      k === 'now'
        ? { type: 'now' }
        : k === 'at'
          ? { type: 'at', at: at.value ? new Date(at.value).toISOString() : '' }
          : k === 'local_time'
            ? { type: 'local_time', date: day.value, time: time.value }
            : { type: 'best_hour', date: day.value };
    const b = { name: name.value, channel: channel.value, template: template.value, segments: include.values(), exclude_segments: exclude.values(), schedule: sched, smart_sending: smart.checked };
    if (throttle.value) b.throttle_per_minute = Number(throttle.value);
    if (priority.value.trim() !== '') b.priority = Number(priority.value);
    if (topic.value) b.topic = topic.value;
    if (abOn.checked) b.ab = { variants: [{ template: template.value }, { template: templateB.value }], test_share: Number(share.value), metric: metric.value, wait: wait.value.trim() };
    return b;
  };
  const errors = h('div');
  const draft = h('button', { type: 'submit', class: 'secondary', value: 'draft', text: 'Save draft' });
  const send = h('button', { type: 'submit', value: 'schedule', text: 'Save and schedule' });
  const form = h(
    'form',
    { class: 'panel' },
    h('div', { class: 'grid two' }, field('Name', name), field('Channel', channel)),
    h('div', { class: 'grid two' }, field('Template', template), field('Topic', topic, 'People who left this topic on their preference page are skipped.')),
    h('div', { class: 'grid two' }, include.set, exclude.set),
    schedule,
    h('div', { class: 'grid two' }, field('Throttle (messages per minute)', throttle), h('div', { class: 'field' }, h('span', { class: 'label-text', text: 'Sending discipline' }), h('label', { class: 'check' }, smart, 'Smart sending (skip contacts messaged recently)'))),
    h('div', { class: 'grid two' }, field('Priority', priority, '0 to 100; empty: 20, promotional. When smart sending or a cap must choose, the higher goes first: cart reminders (80) never wait behind a campaign.')),
    h('fieldset', {}, h('legend', { text: 'A/B test' }), h('label', { class: 'check' }, abOn, 'Test a second template on part of the audience'), abFields),
    errors,
    h('div', { class: 'row' }, draft, send),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const scheduleIt = e.submitter === send;
    busy(
      e.submitter,
      async () => {
        const c = await api('/campaigns', { method: 'POST', body: body() });
        if (scheduleIt) await api(`/campaigns/${encodeURIComponent(c.id)}/schedule`, { method: 'POST' });
        toast(scheduleIt ? 'Campaign scheduled' : 'Draft saved');
        ctx.navigate(`/ui/campaigns/${encodeURIComponent(c.id)}`);
      },
      errors,
    );
  });
  return h('div', {}, pageHead('New campaign', h('a', { href: '/ui/campaigns', class: 'button secondary', text: 'All campaigns' })), form);
}

function describeSchedule(s = {}) {
  switch (s.type) {
    case 'now':
      return 'Now';
    case 'at':
      return dateTime(s.at);
    case 'local_time':
      return `${s.date} at ${s.time}, each contact's local time`;
    case 'best_hour':
      return `${s.date}, at each contact's best hour`;
    default:
      return brief(s);
  }
}

export async function detail(ctx) {
  const id = ctx.params[0];
  const c = await apiOptional(`/campaigns/${encodeURIComponent(id)}`);
  if (!c) return h('div', {}, pageHead('Campaign'), notice('No such campaign (or campaigns are not available on this server).'));
  const topicNames = Object.fromEntries(((await workspaceSettings()).topics || []).map((t) => [t.id, t.name]));
  const errors = h('div');
  const actions = [];
  if (c.status === 'draft') {
    const go = h('button', { type: 'button', text: 'Schedule' });
    go.addEventListener('click', () =>
      busy(
        go,
        async () => {
          await api(`/campaigns/${encodeURIComponent(c.id)}/schedule`, { method: 'POST' });
          toast('Campaign scheduled');
          ctx.navigate(`/ui/campaigns/${encodeURIComponent(c.id)}`, { replace: true });
        },
        errors,
      ),
    );
    actions.push(go);
  }
  const refresh = h('a', { href: `/ui/campaigns/${encodeURIComponent(c.id)}`, class: 'button secondary', text: 'Refresh' });
  const st = c.stats || {};
  const cards = [
    ['Recipients', c.recipients],
    ['Sent', st.sent],
    ['Delivered', st.delivered],
    ['Opened', st.opened],
    ['Clicked', st.clicked],
    ['Skipped', st.skipped],
    ['Deferred', st.deferred],
    ['Failed', st.failed],
    ['Unsubscribed', st.unsubscribed],
    ['Pending', st.pending],
  ].filter(([, v]) => v !== undefined && v !== null);
  const ab = Array.isArray(c.ab_results?.variants) ? c.ab_results.variants : Array.isArray(c.ab_results) ? c.ab_results : null;
  return h(
    'div',
    {},
    pageHead(c.name, statusBadge(c.status), ...actions, refresh, h('a', { href: '/ui/campaigns', class: 'button secondary', text: 'All campaigns' })),
    errors,
    h('div', { class: 'cards' }, cards.map(([k, v]) => h('div', { class: 'card' }, h('div', { class: 'label', text: k }), h('div', { class: 'value', text: num(v) })))),
    panel(
      'Setup',
      kv([
        ['Channel', c.channel],
        ['Template', c.template],
        ['Segments', (c.segments || []).join(', ')],
        ['Leaving out', (c.exclude_segments || []).join(', ')],
        ['Schedule', describeSchedule(c.schedule)],
        ['Throttle', c.throttle_per_minute ? `${num(c.throttle_per_minute)} per minute` : 'none'],
        ['Smart sending', c.smart_sending === false ? 'off' : 'on'],
        ['Priority', String(c.priority ?? 20)],
        ['Topic', c.topic ? (topicNames[c.topic] || c.topic) : 'none'],
        ['Scheduled at', dateTime(c.scheduled_at)],
        ['Finished at', dateTime(c.finished_at)],
      ]),
    ),
    c.ab || c.ab_results
      ? panel(
          'A/B test',
          c.ab ? kv([['Test share', pct(c.ab.test_share)], ['Metric', c.ab.metric], ['Wait', c.ab.wait]]) : null,
          ab
            ? table(
                Object.keys(ab[0] || {}).map((k) => ({ label: k.replaceAll('_', ' '), num: typeof ab[0][k] === 'number', cell: (r) => (typeof r[k] === 'number' ? num(r[k], 3) : brief(r[k])) })),
                ab,
              )
            : c.ab_results
              ? h('pre', { text: JSON.stringify(c.ab_results, null, 2) })
              : null,
        )
      : null,
  );
}
