// Segments: list with sizes; a text editor with a condition builder and a live count; size over time; members.
import { api, download, h, pageHead, panel, table, num, plural, dateTime, contactName, field, select, debounce, busy, errorBox, toast, nextId, serverNow } from '../lib.js';
import { lineChart } from '../charts.js';

const NUMBER_FIELDS = [
  'orders.count',
  'orders.total_spent',
  'orders.average_value',
  'orders.refunded_total',
  'cart.value',
  'cart.item_count',
  'engagement.score',
  'lead.score',
  'rfm.recency',
  'rfm.frequency',
  'rfm.monetary',
  'predicted.clv',
  'predicted.churn_risk',
  'predicted.orders',
];
const TIME_FIELDS = ['last_seen_at', 'orders.last_at', 'orders.first_at', 'cart.updated_at', 'email.last_open_at', 'email.last_click_at'];
const EVENTS = [
  'Order Completed',
  'Checkout Started',
  'Product Added',
  'Product Viewed',
  'Cart Viewed',
  'Order Refunded',
  'Signed Up',
  'Message Opened',
  'Message Clicked',
  'Coupon Issued',
  'Lifecycle Stage Changed',
];
/** `lifecycle.stage` values (README "Lead scoring and lifecycle stages"), with their names in words. */
export const STAGES = [
  ['subscriber', 'Subscriber'],
  ['lead', 'Lead'],
  ['first_time_customer', 'First-time customer'],
  ['repeat_customer', 'Repeat customer'],
  ['vip', 'VIP'],
  ['at_risk', 'At risk'],
  ['lapsed', 'Lapsed'],
];

const quote = (s) => `"${String(s).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

/**
 * The definition editor: a condition builder that writes into the text editor, and a live count of matching
 * contacts (POST /segments/preview) while typing.
 */
export function definitionEditor(initial, segments = []) {
  const textId = nextId('def');
  const countId = nextId('count');
  const text = h('textarea', {
    id: textId,
    class: 'code',
    name: 'definition',
    spellcheck: 'false',
    value: initial || '',
    'aria-describedby': `${countId} ${textId}-hint`,
    placeholder: 'orders.count >= 2 and did "Product Viewed" within 7d',
  });
  const count = h('p', { id: countId, class: 'live-count', 'aria-live': 'polite', 'data-testid': 'live-count', text: 'Type a condition to see how many contacts match.' });
  const words = h('p', { class: 'in-words', 'data-testid': 'definition-words', 'aria-live': 'polite' });
  const sample = h('div', { class: 'small muted' });
  let seq = 0;
  const refresh = async () => {
    const t = text.value.trim();
    const mine = ++seq;
    if (!t) {
      count.className = 'live-count';
      count.textContent = 'Type a condition to see how many contacts match.';
      delete count.dataset.count;
      words.textContent = '';
      sample.replaceChildren();
      return;
    }
    try {
      const r = await api('/segments/preview', { method: 'POST', body: { definition: t, sample: 5 } });
      if (mine !== seq) return;
      count.className = 'live-count';
      count.textContent = r.count === 1 ? '1 contact matches' : `${num(r.count)} contacts match`;
      count.dataset.count = String(r.count);
      words.textContent = r.description ? `In words: ${r.description}.` : '';
      sample.replaceChildren(
        r.sample?.length ? h('span', { text: 'For example: ' }) : '',
        ...(r.sample || []).flatMap((c, i) => [i ? ', ' : '', h('a', { href: `/ui/contacts/${c.id}`, text: contactName(c) })]),
        ...(r.warnings || []).map((w) => h('div', { class: 'notice', text: typeof w === 'string' ? w : JSON.stringify(w) })),
      );
    } catch (e) {
      if (mine !== seq) return;
      count.className = 'form-error';
      count.textContent = e.message;
      delete count.dataset.count;
      words.textContent = '';
      sample.replaceChildren();
    }
  };
  const later = debounce(refresh, 250);
  text.addEventListener('input', later);

  // Condition builder: pick a kind; the inputs that kind needs are shown; "Add" writes the text.
  const kind = select(
    [
      ['field', 'Profile number'],
      ['time', 'Profile date'],
      ['trait', 'Trait'],
      ['did', 'Did an event'],
      ['count', 'Did an event N times'],
      ['consent', 'Consent'],
      ['stage', 'Lifecycle stage'],
      ['segment', 'In another segment'],
    ],
    'field',
  );
  const numField = select(NUMBER_FIELDS, 'orders.count');
  const numOp = select(['>=', '>', '=', '!=', '<', '<='], '>=');
  const numValue = h('input', { type: 'number', value: '1', step: 'any' });
  const timeField = select(TIME_FIELDS, 'last_seen_at');
  const timeRel = select([['within', 'within the last'], ['before', 'more than … ago'], ['after', 'less than … ago']], 'within');
  const timeValue = h('input', { type: 'text', value: '30d', size: 5 });
  const traitName = h('input', { type: 'text', value: 'city', autocomplete: 'off' });
  const traitOp = select(['=', '!=', 'contains', 'starts_with', 'exists'], '=');
  const traitValue = h('input', { type: 'text', value: '' });
  const listId = nextId('events');
  const eventName = h('input', { type: 'text', value: 'Order Completed', list: listId, autocomplete: 'off' });
  const eventWithin = h('input', { type: 'text', value: '30d', size: 5 });
  const negate = h('input', { type: 'checkbox' });
  const countOp = select(['>=', '>', '=', '<', '<='], '>=');
  const countValue = h('input', { type: 'number', value: '2', min: '0', step: '1' });
  const consentStatus = select(['subscribed', 'unsubscribed'], 'subscribed');
  const consentChannel = select(['email', 'sms'], 'email');
  const stageOp = select([['=', 'is'], ['!=', 'is not']], '=');
  const stagePick = select(STAGES, 'vip');
  const segmentPick = select(segments.length ? segments.map((s) => [s.name, s.name]) : [['', 'No other segments']], '');
  const join = select([['and', 'and'], ['or', 'or']], 'and');
  const add = h('button', { type: 'button', class: 'secondary', text: 'Add condition' });

  // Built on each change: the event inputs appear in two kinds, and an element lives in one place at a time.
  const groups = {
    field: () => [field('Field', numField), field('Operator', numOp), field('Value', numValue)],
    time: () => [field('Date field', timeField), field('When', timeRel), field('Duration', timeValue, 'e.g. 30d, 12h, 2w')],
    trait: () => [field('Trait name', traitName), field('Operator', traitOp), field('Value', traitValue)],
    did: () => [field('Event', eventName), field('Within', eventWithin, 'empty = ever'), h('div', { class: 'field push' }, h('label', { class: 'check' }, negate, 'did not'))],
    count: () => [field('Event', eventName), field('Within', eventWithin, 'empty = ever'), field('Operator', countOp), field('Times', countValue)],
    consent: () => [field('Status', consentStatus), field('Channel', consentChannel)],
    stage: () => [field('Operator', stageOp), field('Stage', stagePick)],
    segment: () => [field('Segment', segmentPick)],
  };
  const slot = h('div', { class: 'contents' });
  const inputs = h('div', { class: 'builder' }, field('Kind of condition', kind), slot, field('Join with', join), h('div', { class: 'field push' }, add));
  const showKind = () => slot.replaceChildren(...groups[kind.value]());
  kind.addEventListener('change', showKind);
  showKind();

  const condition = () => {
    switch (kind.value) {
      case 'field':
        return `${numField.value} ${numOp.value} ${Number(numValue.value) || 0}`;
      case 'time': {
        const d = timeValue.value.trim() || '30d';
        return timeRel.value === 'within' ? `${timeField.value} within ${d}` : `${timeField.value} ${timeRel.value} ${d} ago`;
      }
      case 'trait': {
        const name = traitName.value.trim().replace(/[^A-Za-z0-9_.]/g, '_') || 'name';
        return traitOp.value === 'exists' ? `trait.${name} exists` : `trait.${name} ${traitOp.value} ${quote(traitValue.value)}`;
      }
      case 'did': {
        const w = eventWithin.value.trim();
        return `${negate.checked ? 'not ' : ''}did ${quote(eventName.value.trim() || 'Order Completed')}${w ? ` within ${w}` : ''}`;
      }
      case 'count': {
        const w = eventWithin.value.trim();
        return `count(${quote(eventName.value.trim() || 'Product Viewed')}${w ? `, within ${w}` : ''}) ${countOp.value} ${Math.max(0, Math.floor(Number(countValue.value) || 0))}`;
      }
      case 'consent':
        return `${consentStatus.value} ${consentChannel.value}`;
      case 'stage':
        return `lifecycle.stage ${stageOp.value} ${quote(stagePick.value)}`;
      case 'segment':
        return segmentPick.value ? `in segment ${quote(segmentPick.value)}` : '';
      default:
        return '';
    }
  };
  add.addEventListener('click', () => {
    const c = condition();
    if (!c) return;
    const current = text.value.trim();
    text.value = current ? `${current} ${join.value} ${c}` : c;
    refresh();
    toast(`Added: ${c}`);
  });

  const el = h(
    'div',
    {},
    h('fieldset', {}, h('legend', { text: 'Condition builder' }), inputs),
    h('datalist', { id: listId }, EVENTS.map((e) => h('option', { value: e }))),
    h(
      'div',
      { class: 'field' },
      h('label', { for: textId, text: 'Definition (segment language)' }),
      text,
      h('div', { class: 'hint', id: `${textId}-hint`, text: 'Operators: = != > >= < <= contains starts_with in [..] exists; and, or, not, ( ); did "Event" within 7d; subscribed email; in segment "Name".' }),
    ),
    count,
    words,
    sample,
  );
  if (initial) refresh();
  return { el, text, refresh };
}

export async function list() {
  const segments = (await api('/segments')).items || [];
  return h(
    'div',
    {},
    pageHead('Segments', h('a', { href: '/ui/segments/new', class: 'button', text: 'New segment' })),
    panel(
      null,
      table(
        [
          { label: 'Segment', cell: (s) => h('a', { href: `/ui/segments/${encodeURIComponent(s.id)}`, text: s.name }) },
          { label: 'Contacts', num: true, cell: (s) => h('span', { 'data-size': String(s.size), text: num(s.size) }) },
          { label: 'Who is in it', cell: (s) => h('span', { title: s.text, text: s.description || s.text }) },
          { label: 'Updated', cell: (s) => dateTime(s.updated_at) },
        ],
        segments,
        { empty: 'No segments yet.' },
      ),
    ),
  );
}

export async function create(ctx) {
  const segments = (await api('/segments')).items || [];
  const name = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' });
  const editor = definitionEditor(ctx.query.get('definition') || '', segments);
  const errors = h('div');
  const save = h('button', { type: 'submit', text: 'Save segment' });
  const form = h('form', { class: 'panel', novalidate: true }, field('Name', name), editor.el, errors, save);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(
      save,
      async () => {
        const s = await api('/segments', { method: 'POST', body: { name: name.value, definition: editor.text.value } });
        toast(`Segment “${s.name}” saved: ${plural(s.size, 'contact')}`);
        ctx.navigate(`/ui/segments/${encodeURIComponent(s.id)}`);
      },
      errors,
    );
  });
  return h('div', {}, pageHead('New segment', h('a', { href: '/ui/segments', class: 'button secondary', text: 'All segments' })), form);
}

export async function detail(ctx) {
  const id = ctx.params[0];
  const [seg, all, history, members] = await Promise.all([
    api(`/segments/${encodeURIComponent(id)}`),
    api('/segments'),
    api(`/segments/${encodeURIComponent(id)}/history`, { query: { window: '90d' } }).catch(() => ({ items: [] })),
    api(`/segments/${encodeURIComponent(id)}/members`, { query: { limit: 20 } }).catch(() => ({ items: [] })),
  ]);
  const others = (all.items || []).filter((s) => s.id !== seg.id);
  const name = h('input', { type: 'text', name: 'name', required: true, value: seg.name });
  const editor = definitionEditor(seg.text, others);
  const errors = h('div');
  const save = h('button', { type: 'submit', text: 'Save changes' });
  const del = h('button', { type: 'button', class: 'danger', text: 'Delete segment' });
  const form = h('form', { novalidate: true }, field('Name', name), editor.el, errors, h('div', { class: 'row' }, save, del));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(
      save,
      async () => {
        const s = await api(`/segments/${encodeURIComponent(seg.id)}`, { method: 'PUT', body: { name: name.value, definition: editor.text.value } });
        toast(`Saved: ${plural(s.size, 'contact')}`);
        ctx.navigate(`/ui/segments/${encodeURIComponent(s.id)}`, { replace: true });
      },
      errors,
    );
  });
  del.addEventListener('click', () => {
    if (!window.confirm(`Delete the segment “${seg.name}”?`)) return;
    busy(
      del,
      async () => {
        await api(`/segments/${encodeURIComponent(seg.id)}`, { method: 'DELETE' });
        toast('Segment deleted');
        ctx.navigate('/ui/segments');
      },
      errors,
    );
  });

  // Size over time: the recorded changes, then the current size up to now.
  const points = (history.items || []).map((p) => ({ x: Date.parse(p.at), y: p.size }));
  points.push({ x: serverNow().getTime(), y: seg.size });
  const chart = lineChart(points, { label: `Size over the last 90 days; now ${plural(seg.size, 'contact')}.`, yFormat: (v) => num(v), step: true, integer: true, half: true });

  const memberTable = table(
    [
      { label: 'Contact', cell: (c) => h('a', { href: `/ui/contacts/${c.id}`, text: contactName(c) }) },
      { label: 'Email', cell: (c) => c.email || '—' },
      { label: 'Orders', num: true, cell: (c) => num(c.orders?.count) },
    ],
    members.items || [],
    { empty: 'No members right now.' },
  );

  const exportButton = h('button', { type: 'button', class: 'secondary', text: 'Export members' });
  exportButton.addEventListener('click', () =>
    busy(exportButton, () => download(`/contacts/export?segment=${encodeURIComponent(seg.id)}`, 'segment-members.csv')),
  );
  return h(
    'div',
    {},
    pageHead(seg.name, h('span', { class: 'badge accent', 'data-testid': 'segment-size', 'data-size': String(seg.size), text: plural(seg.size, 'contact') }), exportButton, h('a', { href: '/ui/segments', class: 'button secondary', text: 'All segments' })),
    (seg.warnings || []).length ? h('div', {}, seg.warnings.map((w) => errorBox(typeof w === 'string' ? w : JSON.stringify(w)))) : null,
    h('p', { class: 'lede', 'data-testid': 'segment-words', text: `${seg.description || seg.text}.` }),
    h('div', { class: 'grid two' }, panel('Size over time', chart), panel('Members (first 20)', memberTable)),
    panel('Definition', form),
  );
}
