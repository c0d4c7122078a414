// Composing a campaign (new, or editing a draft or scheduled one) and the confirmation before it is scheduled:
// the audience size and the send time in the store's zone, stated in words.
import { api, apiOptional, h, pageHead, field, select, busy, toast, nextId, num, confirmDialog, dateTimeIn, notice } from '../lib.js';
import { templateName } from './words.js';

const UNAVAILABLE = 'Campaigns are not available on this server yet.';

function checkboxes(legend, name, segments, chosen = []) {
  const boxes = segments.map((s) => h('input', { type: 'checkbox', name, value: s.id, checked: chosen.includes(s.id) || chosen.includes(s.name) }));
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

/** A value for a datetime-local input: the browser's local time of `d`, to the minute. */
function localInput(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Tomorrow at 10:00 in the browser's time: the default send time (never "now" by accident). */
function tomorrowAtTen() {
  const d = new Date();
  d.setDate(d.getDate() + 1);
  d.setHours(10, 0, 0, 0);
  return d;
}

/**
 * Asks before scheduling: "Send “Spring sale” to 1,234 people on Tuesday, 2 December 2026 at 10:00 (Europe/Paris)?"
 * Resolves true once scheduled.
 */
export async function confirmSchedule(c, opener) {
  const id = encodeURIComponent(c.id);
  const a = await api(`/campaigns/${id}/audience`);
  const channelWord = c.channel === 'sms' ? 'text messages' : c.channel === 'chat' ? 'chat messages' : 'email';
  const when = a.send_at
    ? c.schedule?.type === 'local_time' || c.schedule?.type === 'best_hour'
      ? `on ${dateTimeIn(a.send_at, a.timezone)} in the store's zone, and at the same local time (or their best hour) in each person's own zone`
      : `on ${dateTimeIn(a.send_at, a.timezone)}`
    : 'now, as soon as you confirm';
  const unreachable = a.people - a.reachable;
  const people = (n) => (Number(n) === 1 ? '1 person' : `${num(n)} people`);
  return confirmDialog({
    title: `Schedule “${c.name}”?`,
    body: [
      `It goes to ${people(a.people)} ${when}.`,
      unreachable > 0 ? `${people(unreachable)} of them cannot receive ${channelWord} (no address or no consent) and will be skipped.` : `All of them can receive ${channelWord}.`,
      'Until it starts you can still edit or cancel it.',
    ],
    confirmText: a.send_at ? 'Schedule' : 'Send now',
    cancelText: 'Not yet',
    opener,
    action: () => api(`/campaigns/${id}/schedule`, { method: 'POST' }),
  });
}

/** The composer: a new campaign, or (`existing`) a draft or scheduled one being edited. */
async function composer(ctx, existing) {
  const probe = await apiOptional('/campaigns');
  if (!probe) return h('div', {}, pageHead('New campaign'), notice(UNAVAILABLE));
  const [segments, templates, settings] = await Promise.all([api('/segments'), api('/templates'), api('/settings')]);
  const e = existing || {};
  // A topic: people who left it on the preference page are skipped.
  const topic = select([['', 'None: everyone subscribed'], ...(settings.topics || []).map((t) => [t.id, t.name])], e.topic || '', { name: 'topic' });
  const segs = segments.items || [];
  const tpls = (templates.items || []).filter((t) => ['email', 'sms'].includes(t.channel));
  const name = h('input', { type: 'text', name: 'name', required: true, value: e.name || '' });
  const channel = select([['email', 'Email'], ['sms', 'SMS']], e.channel || 'email', { name: 'channel' });
  const template = h('select', { name: 'template' });
  const templateB = h('select', { name: 'template_b' });
  const fillTemplates = () => {
    const opts = tpls.filter((t) => t.channel === channel.value);
    for (const sel of [template, templateB]) {
      sel.replaceChildren(...(opts.length ? opts.map((t) => h('option', { value: t.id, text: templateName(t) })) : [h('option', { value: '', text: 'No template for this channel' })]));
    }
    if (opts.length > 1) templateB.selectedIndex = 1;
    if (e.template) template.value = e.template;
    if (e.ab?.variants?.[1]?.template) templateB.value = e.ab.variants[1].template;
  };
  channel.addEventListener('change', fillTemplates);
  fillTemplates();
  const include = checkboxes('Send to segments', 'segments', segs, e.segments || []);
  const exclude = checkboxes('Leave out segments', 'exclude_segments', segs, e.exclude_segments || []);

  const radioName = nextId('sched');
  const kinds = [
    ['at', 'At a time'],
    ['local_time', "At a local time in each contact's time zone"],
    ['best_hour', "At each contact's best hour"],
    ['now', 'Right away'],
  ];
  const chosen = e.schedule?.type || 'at';
  const radios = kinds.map(([v]) => h('input', { type: 'radio', name: radioName, value: v, checked: v === chosen }));
  const at = h('input', { type: 'datetime-local', name: 'at', value: localInput(e.schedule?.at ? new Date(e.schedule.at) : tomorrowAtTen()), min: localInput(new Date()) });
  const day = h('input', { type: 'date', name: 'date', value: e.schedule?.date || localInput(tomorrowAtTen()).slice(0, 10) });
  const time = h('input', { type: 'time', name: 'time', value: e.schedule?.time || '10:00' });
  const atField = field('Send at (your time zone)', at, 'The confirmation states it in the store’s time zone.');
  const dayField = field('Date', day);
  const timeField = field('Local time', time);
  const kind = () => radios.find((r) => r.checked)?.value || 'at';
  const showSchedule = () => {
    const k = kind();
    atField.hidden = k !== 'at';
    dayField.hidden = !['local_time', 'best_hour'].includes(k);
    timeField.hidden = k !== 'local_time';
  };
  radios.forEach((r) => r.addEventListener('change', showSchedule));
  showSchedule();
  const schedule = h('fieldset', {}, h('legend', { text: 'When' }), radios.map((r, i) => h('label', { class: 'check' }, r, kinds[i][1])), atField, dayField, timeField);

  const throttle = h('input', { type: 'number', name: 'throttle_per_minute', min: '1', step: '1', placeholder: 'no limit', value: e.throttle_per_minute ?? '' });
  const smart = h('input', { type: 'checkbox', name: 'smart_sending', checked: e.smart_sending !== false });
  const priority = h('input', { type: 'number', name: 'priority', min: '0', max: '100', step: '1', inputmode: 'numeric', placeholder: '20', value: existing && e.priority !== 20 ? e.priority ?? '' : '' });
  const abOn = h('input', { type: 'checkbox', name: 'ab', checked: !!e.ab });
  const share = h('input', { type: 'number', name: 'test_share', min: '0.01', max: '0.9', step: '0.01', value: String(e.ab?.test_share ?? 0.2) });
  const metric = select([['opens', 'Opens'], ['clicks', 'Clicks'], ['revenue', 'Revenue']], e.ab?.metric || 'clicks', { name: 'metric' });
  const wait = h('input', { type: 'text', name: 'wait', value: e.ab?.wait || '4h' });
  const abFields = h('div', { class: 'grid two', hidden: !e.ab }, field('Variant B template', templateB), field('Test share (fraction of the audience)', share), field('Pick the winner by', metric), field('Wait before picking', wait, 'A duration: 4h, 1d'));
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
    b.throttle_per_minute = throttle.value ? Number(throttle.value) : null;
    b.priority = priority.value.trim() !== '' ? Number(priority.value) : null;
    b.topic = topic.value || null;
    b.ab = abOn.checked ? { variants: [{ template: template.value }, { template: templateB.value }], test_share: Number(share.value), metric: metric.value, wait: wait.value.trim() } : null;
    if (!existing) for (const k of Object.keys(b)) if (b[k] === null) delete b[k];
    return b;
  };
  const errors = h('div');
  const isScheduled = e.status === 'scheduled';
  const save = h('button', { type: 'submit', class: 'secondary', value: 'draft', text: isScheduled ? 'Save changes' : 'Save draft' });
  const send = h('button', { type: 'submit', value: 'schedule', text: 'Save and schedule…' });
  const form = h(
    'form',
    { class: 'panel' },
    isScheduled ? notice('This campaign is scheduled: saving takes its audience again from the segments chosen here.') : null,
    h('div', { class: 'grid two' }, field('Name', name), field('Channel', channel)),
    h('div', { class: 'grid two' }, field('Template', template), field('Topic', topic, 'People who left this topic on their preference page are skipped.')),
    h('div', { class: 'grid two' }, include.set, exclude.set),
    schedule,
    h('div', { class: 'grid two' }, field('Throttle (messages per minute)', throttle), h('div', { class: 'field' }, h('span', { class: 'label-text', text: 'Sending discipline' }), h('label', { class: 'check' }, smart, 'Smart sending (skip contacts messaged recently)'))),
    h('div', { class: 'grid two' }, field('Priority', priority, '0 to 100; empty: 20, promotional. When smart sending or a cap must choose, the higher goes first: cart reminders (80) never wait behind a campaign.')),
    h('fieldset', {}, h('legend', { text: 'A/B test' }), h('label', { class: 'check' }, abOn, 'Test a second template on part of the audience'), abFields),
    errors,
    h('div', { class: 'row' }, save, isScheduled ? null : send),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const scheduleIt = ev.submitter === send;
    const opener = ev.submitter;
    busy(
      opener,
      async () => {
        const c = existing
          ? await api(`/campaigns/${encodeURIComponent(existing.id)}`, { method: 'PATCH', body: body() })
          : await api('/campaigns', { method: 'POST', body: body() });
        const path = `/ui/campaigns/${encodeURIComponent(c.id)}`;
        if (scheduleIt) {
          const scheduled = await confirmSchedule(c, opener);
          toast(scheduled ? `“${c.name}” is scheduled` : 'Saved as a draft: schedule it when you are ready');
        } else {
          toast(isScheduled ? 'Changes saved' : 'Draft saved');
        }
        ctx.navigate(path);
      },
      errors,
    );
  });
  const title = existing ? `Edit “${existing.name}”` : 'New campaign';
  return h('div', {}, pageHead(title, h('a', { href: existing ? `/ui/campaigns/${encodeURIComponent(existing.id)}` : '/ui/campaigns', class: 'button secondary', text: existing ? 'Back to the campaign' : 'All campaigns' })), form);
}

export function compose(ctx) {
  return composer(ctx, null);
}

export async function edit(ctx) {
  const c = await apiOptional(`/campaigns/${encodeURIComponent(ctx.params[0])}`);
  if (!c) return h('div', {}, pageHead('Edit campaign'), notice('No such campaign.'));
  if (!['draft', 'scheduled'].includes(c.status)) return h('div', {}, pageHead(`Edit “${c.name}”`), notice(`This campaign is ${c.status}: only drafts and scheduled campaigns can be edited. Duplicate it to start a new one.`));
  return composer(ctx, c);
}
