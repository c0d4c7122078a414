// Flows, steps and rules said in words, for people: "Wait 4 hours", "Email “Your cart is waiting”",
// "at most once a day", never an id, a duration code or raw Liquid.

const UNITS = { s: ['second', 'seconds'], m: ['minute', 'minutes'], h: ['hour', 'hours'], d: ['day', 'days'], w: ['week', 'weeks'] };
const CHANNELS = { email: 'Email', sms: 'SMS', chat: 'Chat message', webhook: 'Webhook' };

/** "4h" → "4 hours", "1d" → "1 day"; anything else as written. */
export function duration(text) {
  const m = /^\s*(\d+)\s*([smhdw])\s*$/.exec(String(text ?? ''));
  if (!m) return String(text ?? '');
  const n = Number(m[1]);
  return `${n} ${UNITS[m[2]][n === 1 ? 0 : 1]}`;
}

/** A flow's re-entry rule: "once", "always", "once_per 7d". */
export function reentry(rule) {
  if (!rule || rule === 'once') return 'Only once per person';
  if (rule === 'always') return 'Every time the trigger happens';
  const m = /^once_per\s+(.+)$/.exec(rule);
  if (m) {
    const every = duration(m[1]);
    // "once a day", not "once every 1 day".
    const one = { '1 hour': 'an hour', '1 day': 'a day', '1 week': 'a week', '1 minute': 'a minute' }[every];
    return `At most once ${one || `every ${every}`} per person`;
  }
  return rule;
}

/** Liquid reduced to readable text: {{ contact.first_name }} → “first name”. */
export function readable(liquid) {
  return String(liquid ?? '')
    .replace(/\{%.*?%\}/g, '')
    .replace(/\{\{\s*([\w.]+)[^}]*\}\}/g, (_, path) => `‹${path.split('.').pop().replaceAll('_', ' ')}›`)
    .replace(/\s+/g, ' ')
    .trim();
}

/** A template by its name, else its subject or text, with any Liquid said as ‹placeholders›; never its id. */
export function templateName(t) {
  return readable(t?.name) || readable(t?.subject) || readable(t?.body).slice(0, 60) || 'Untitled template';
}

/** A condition in plainer words ("did "X" since entry" → "did “X” since entering the flow"). */
export function condition(text) {
  return String(text ?? '')
    .replace(/"([^"]*)"/g, '“$1”')
    .replace(/\bsince entry\b/g, 'since entering the flow')
    .replace(/\bwithin (\d+[smhdw])\b/g, (_, d) => `in the last ${duration(d)}`);
}

/**
 * A step in words; `names.templates` maps template ids to names, `names.pools` pool ids to names and
 * `names.conditions` condition texts to sentences.
 */
export function describeStep(step, names = {}) {
  const tpl = (id) => names.templates?.[id] || id || 'a template';
  switch (step?.type) {
    case 'delay':
      if (step.reorder_interval) return `Wait until the products are usually bought again${step.duration ? ` (else ${duration(step.duration)})` : ''}`;
      if (step.duration) return `Wait ${duration(step.duration)}`;
      if (step.until) return `Wait until ${step.until}${step.weekdays?.length ? ` on ${step.weekdays.join(', ')}` : ''}`;
      return 'Wait';
    case 'wait_for':
      return `Wait for “${step.event}”${step.timeout ? `, at most ${duration(step.timeout)}` : ''}`;
    case 'split': {
      const said = names.conditions?.[step.condition];
      return `Check: ${said ? said.replace(/^People /, 'people ') : condition(step.condition)}`;
    }
    case 'ab_split':
      return `A/B test of ${(step.variants || []).length} variants`;
    case 'send':
      return `${CHANNELS[step.channel] || 'Message'} “${tpl(step.template)}”${step.transactional ? ' (transactional)' : ''}`;
    case 'task':
      return `Task for the team: ${readable(step.message) || 'follow up'}`;
    case 'webhook':
      return `Call ${(() => { try { return new URL(step.url).host; } catch { return 'your system'; } })()}`;
    case 'issue_coupon':
      return `Give a code from “${names.pools?.[step.pool] || step.pool}”`;
    case 'update_profile':
      return 'Update the profile';
    case 'tag':
      return `Tag ${[].concat(step.add || step.tag || []).join(', ') || ''}`.trim();
    case 'exit':
      return 'End';
    default:
      return step?.type ? step.type.replaceAll('_', ' ') : 'Between steps';
  }
}
