// Contacts: search, and a profile with computed fields, consent, cart, traits, timeline and messages.
import { api, apiOptional, download, h, pageHead, panel, table, kv, num, plural, money, dateTime, contactName, statusBadge, badge, brief, pager, busy, field, workspaceSettings, toast, nextId, localTime } from '../lib.js';
import { messageView } from '../preview.js';
import { STAGES } from './segments.js';
import { describeStep, templateName } from './words.js';
import { commerceSentence } from './timeline-words.js';

function contactRow(currency) {
  return [
    { label: 'Name', cell: (c) => h('a', { href: `/ui/contacts/${c.id}`, text: contactName(c) }) },
    { label: 'Email', cell: (c) => c.email || '—' },
    { label: 'Orders', num: true, cell: (c) => num(c.orders?.count) },
    { label: 'Total spent', num: true, cell: (c) => money(c.orders?.total_spent, currency) },
    { label: 'Last seen', cell: (c) => dateTime(c.last_seen_at) },
  ];
}

async function search(q) {
  // The server matches email, phone, user id and name (case-insensitive, part of the text).
  const r = await api('/contacts', { query: { q, limit: 200 } });
  return { items: r.items || [], more: (r.items || []).length >= 200 };
}

export async function list(ctx) {
  const q = (ctx.query.get('q') || '').trim();
  const settings = await workspaceSettings();
  const currency = settings?.store?.currency || 'USD';
  const input = h('input', { type: 'search', name: 'q', value: q, autocomplete: 'off', placeholder: 'ann@example.com or Ann' });
  const form = h(
    'form',
    { role: 'search', class: 'row', 'aria-label': 'Search contacts' },
    field('Search by email, name or user id', input),
    h('div', { class: 'field' }, h('button', { type: 'submit', text: 'Search' })),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = input.value.trim();
    ctx.navigate(v ? `/ui/contacts?q=${encodeURIComponent(v)}` : '/ui/contacts');
  });
  const body = h('div', { id: 'contact-results' });
  if (q) {
    const r = await search(q);
    body.append(
      h('p', { class: 'muted', 'aria-live': 'polite', text: `${plural(r.items.length, 'contact')} found for “${q}”.` }),
      table(contactRow(currency), r.items, { empty: 'No contact matches.' }),
      r.more ? h('p', { class: 'muted small', text: 'Showing the 200 newest matches: refine the search to see others.' }) : null,
    );
  } else {
    const page = await api('/contacts', { query: { limit: 50 } });
    const t = table(contactRow(currency), page.items || [], { empty: 'No contacts yet: send events to /v1/track or /v1/identify.' });
    body.append(t);
    const tbody = t.querySelector('tbody');
    if (tbody) {
      body.append(
        pager(
          (cursor) => api('/contacts', { query: { limit: 50, cursor } }),
          (items) => [...table(contactRow(currency), items).querySelectorAll('tbody tr')],
          tbody,
          page.next_cursor,
        ),
      );
    }
  }
  const exportButton = h('button', { type: 'button', class: 'secondary', text: 'Export CSV' });
  exportButton.addEventListener('click', () => busy(exportButton, () => download('/contacts/export', 'contacts.csv')));
  return h('div', {}, pageHead('Contacts', exportButton), panel(null, form), panel(null, body));
}

/** Events about a message, as sentences: (what, where it came from) → words. */
const MESSAGE_SENTENCES = {
  'Message Sent': (what, from) => `Sent ${what}${from}`,
  'Email Opened': (what, from) => `Opened ${what}${from}`,
  'Email Clicked': (what, from) => `Clicked a link in ${what}${from}`,
  Unsubscribed: (what, from) => `Unsubscribed through ${what}${from}`,
  'Email Bounced': (what, from) => `${what}${from} bounced`,
  'Email Marked as Spam': (what, from) => `Marked ${what}${from} as spam`,
};

/** The names a timeline speaks in: flows (with their steps' templates), campaigns, templates, messages seen. */
export function timelineNames(flows = [], campaigns = [], templates = [], messages = []) {
  const tpl = Object.fromEntries(templates.map((t) => [t.id, templateName(t)]));
  const stepTemplate = {};
  for (const f of flows) for (const st of f.definition?.steps || []) if (st.template) stepTemplate[`${f.id}/${st.id}`] = tpl[st.template] || st.template;
  return {
    flows: Object.fromEntries(flows.map((f) => [f.id, f.name])),
    campaigns: Object.fromEntries(campaigns.map((c) => [c.id, { name: c.name, template: tpl[c.template] || c.template }])),
    stepTemplate,
    subjects: Object.fromEntries(messages.filter((m) => m.subject).map((m) => [m.id, m.subject])),
  };
}

function messageSentence(e, names) {
  const say = MESSAGE_SENTENCES[e.event];
  const p = e.properties || {};
  if (!say || !names || !(p.message_id || p.flow_id || p.campaign_id)) return null;
  const campaign = p.campaign_id ? names.campaigns[p.campaign_id] : null;
  const title = names.subjects[p.message_id] || (p.flow_id ? names.stepTemplate[`${p.flow_id}/${p.step_id}`] : campaign?.template);
  const what = title ? `“${title}”` : p.channel === 'sms' ? 'a text message' : 'a message';
  const from = p.flow_id ? ` from ${names.flows[p.flow_id] || 'a flow'}` : campaign ? ` from the campaign ${campaign.name}` : '';
  return say(what, from);
}

function eventTitle(e, names) {
  const sentence = e.type === 'track' ? messageSentence(e, names) : null;
  if (sentence) return sentence;
  if (e.type === 'track') return e.event;
  if (e.type === 'page' || e.type === 'screen') return `${e.type === 'page' ? 'Viewed page' : 'Viewed screen'}${e.name ? ` ${e.name}` : ''}`;
  return { identify: 'Identified', alias: 'Alias', group: 'Joined group' }[e.type] || e.type;
}

/** Properties left out of the timeline's one-line summaries. */
const NOISY_PROPERTIES = new Set(['image_url', 'url', 'referrer', 'path', 'search', 'message_id', 'flow_id', 'step_id', 'campaign_id', 'run_id', 'machine', 'segment_id']);

function eventSummary(e) {
  const p = e.type === 'identify' ? e.traits : e.properties;
  if (!p || typeof p !== 'object') return '';
  return Object.entries(p)
    .filter(([k, v]) => v !== null && v !== '' && typeof v !== 'object' && !NOISY_PROPERTIES.has(k))
    .slice(0, 6)
    .map(([k, v]) => `${k}: ${brief(v, 40)}`)
    .concat(Array.isArray(p.products) ? [`${p.products.length} product${p.products.length === 1 ? '' : 's'}`] : [])
    .join(' · ');
}

function timelineItems(events, names) {
  return events.map((e) => {
    const message = e.type === 'track' ? messageSentence(e, names) : null;
    const [title, detail] = (!message && commerceSentence(e, names?.currency)) || [eventTitle(e, names), eventSummary(e)];
    return h(
      'li',
      {},
      h('time', { class: 'when', datetime: e.timestamp, text: dateTime(e.timestamp) }),
      h('div', {}, h('div', { class: 'what', text: title }), detail ? h('div', { class: 'props', text: detail }) : null),
    );
  });
}

const FREQUENCY = { all: 'Every marketing email', twice_weekly: 'At most twice a week', weekly: 'At most once a week' };

/** What the person chose on their preference page, and the evidence of their sign-up (stored as traits). */
function choicesAndEvidence(contact, topics, formNames) {
  const t = contact.traits || {};
  const names = Object.fromEntries(topics.map((x) => [x.id, x.name]));
  const out = contact.consent?.topics_out || [];
  const pairs = [
    ['How often', FREQUENCY[contact.consent?.frequency] || FREQUENCY.all],
    ['Topics left', out.length ? out.map((id) => names[id] || `${id} (no longer a topic)`).join(', ') : 'None'],
  ];
  if (t.consent_text) {
    pairs.push(['Agreed to', `“${t.consent_text}”`]);
    if (t.consent_form) pairs.push(['Form', formNames[t.consent_form] || 'A form that no longer exists']);
    if (t.consent_page) pairs.push(['Page', String(t.consent_page)]);
    if (t.consent_requested_at) pairs.push(['Signed up', dateTime(t.consent_requested_at)]);
    if (t.consent_ip) pairs.push(['From address', String(t.consent_ip)]);
    if (t.consent_confirmed_at) pairs.push(['Confirmed by email', `${dateTime(t.consent_confirmed_at)}${t.consent_confirmed_ip ? ` from ${t.consent_confirmed_ip}` : ''}`]);
  }
  return h('div', { 'data-testid': 'consent-evidence' }, h('h3', { text: 'Choices and evidence' }), kv(pairs));
}

function consentPanel(contact, rerender, topics = [], formNames = {}) {
  const rows = ['email', 'sms'].map((channel) => {
    const c = contact.consent?.[channel] || {};
    // An erased person is never subscribed again from here: only their own new consent brings them back.
    if (contact.erased_at) {
      return h('div', { class: 'row' }, h('div', { class: 'field' }, h('span', { class: 'label-text', text: channel === 'sms' ? 'SMS' : 'Email' }), h('div', {}, statusBadge(c.status || 'never_subscribed'))));
    }
    const next = c.status === 'subscribed' ? 'unsubscribed' : 'subscribed';
    const btn = h('button', {
      type: 'button',
      class: 'secondary',
      text: next === 'subscribed' ? `Subscribe to ${channel}` : `Unsubscribe from ${channel}`,
    });
    btn.addEventListener('click', () =>
      busy(btn, async () => {
        const updated = await api('/contacts/consent', { method: 'POST', body: { contact_id: contact.id, channel, status: next, source: 'ui' } });
        toast(`${channel === 'sms' ? 'SMS' : 'Email'} consent: ${next.replaceAll('_', ' ')}`);
        rerender(updated);
      }),
    );
    return h(
      'div',
      { class: 'row' },
      h('div', { class: 'field' }, h('span', { class: 'label-text', text: channel === 'sms' ? 'SMS' : 'Email' }), h('div', {}, statusBadge(c.status || 'never_subscribed'))),
      h('div', { class: 'field small muted' }, c.updated_at ? `${dateTime(c.updated_at)}${c.source ? ` · source ${c.source}` : ''}` : 'No change recorded'),
      h('div', { class: 'field shrink' }, btn),
    );
  });
  return panel('Consent', rows, contact.erased_at ? null : choicesAndEvidence(contact, topics, formNames));
}

const KNOWN_KEYS = new Set(['id', 'user_id', 'email', 'phone', 'anonymous_ids', 'traits', 'timezone', 'locale', 'consent', 'orders', 'cart', 'last_seen_at', 'lead', 'lifecycle', 'created_at', 'updated_at', 'erased_at']);

/** A lifecycle stage in words (`at_risk` → At risk). */
const stageName = (s) => (STAGES.find(([v]) => v === s) || [s, s])[1];

/** What erasing a person does, in words (crates/engine/src/erasure.rs, crates/domain/src/erasure.rs). */
const ERASURE_EFFECTS = [
  'their email address, phone number, names, user ids and every other profile detail;',
  'the personal details in their events (the events stay as anonymous activity);',
  'the messages sent to them and their tasks;',
  'their place in flows: nothing more is sent to them.',
];

/**
 * The confirmation before an erasure: a modal <dialog> (focus stays inside, Escape cancels) that says what
 * happens and asks for the person's email (or ERASE when they have none) to be typed.
 */
function eraseDialog(contact, opener, onErased) {
  const phrase = contact.email || 'ERASE';
  const titleId = nextId('dlg');
  const descId = nextId('dlg');
  const input = h('input', { type: 'text', name: 'confirm', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false' });
  const confirm = h('button', { type: 'submit', class: 'danger-solid', text: 'Erase permanently', disabled: true });
  const cancel = h('button', { type: 'button', class: 'secondary', text: 'Cancel' });
  const errors = h('div', { 'aria-live': 'polite' });
  const matches = () => input.value.trim().toLowerCase() === phrase.toLowerCase();
  input.addEventListener('input', () => {
    confirm.disabled = !matches();
  });
  const form = h(
    'form',
    {},
    h('h2', { id: titleId, text: `Erase ${contactName(contact)}?` }),
    h(
      'div',
      { id: descId },
      h('p', { text: 'Kairos removes everything that identifies this person:' }),
      h('ul', {}, ERASURE_EFFECTS.map((t) => h('li', { text: t }))),
      h('p', { text: 'Their orders and revenue stay in your figures, anonymously.' }),
      h('p', { text: 'They will not come back from Shopify, WooCommerce, Magento or a CSV import unless they give their consent again.' }),
      h('p', {}, h('strong', { text: 'This cannot be undone.' }), ' If they asked for their data too, export it first.'),
    ),
    field(contact.email ? `Type their email, ${phrase}, to confirm` : 'Type ERASE to confirm', input),
    errors,
    h('div', { class: 'actions' }, confirm, cancel),
  );
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, 'aria-describedby': descId }, form);
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener.isConnected) opener.focus();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!matches()) return;
    cancel.disabled = true;
    busy(
      confirm,
      async () => {
        const r = await api(`/contacts/${contact.id}`, { method: 'DELETE' });
        dialog.close();
        toast(`Erased: ${plural(r.events ?? 0, 'event')} and ${plural(r.messages ?? 0, 'message')} cleared, ${plural(r.flow_runs ?? 0, 'flow run')} ended`);
        onErased();
      },
      errors,
    ).finally(() => {
      cancel.disabled = false;
      confirm.disabled = !matches();
    });
  });
  document.body.append(dialog);
  dialog.showModal();
  input.focus();
}

/** Export (a subject access request) and erasure; for an erased person, when it happened. */
function dataRightsPanel(contact, ctx) {
  if (contact.erased_at) {
    return panel('Data rights', h('p', {}, 'Erased on ', localTime(contact.erased_at), '. There is nothing left to export or erase.'));
  }
  const errors = h('div', { 'aria-live': 'polite' });
  const exportButton = h('button', { type: 'button', class: 'secondary', text: 'Export data' });
  exportButton.addEventListener('click', () =>
    busy(exportButton, async () => {
      await download(`/contacts/${contact.id}/export`, `kairos-contact-${contact.id}.json`);
      toast('Data exported');
    }, errors),
  );
  const eraseButton = h('button', { type: 'button', class: 'danger', text: 'Erase this person' });
  eraseButton.addEventListener('click', () => eraseDialog(contact, eraseButton, () => ctx.navigate(`/ui/contacts/${contact.id}`, { replace: true })));
  return panel(
    'Data rights',
    h('p', { class: 'muted small', text: 'When a person asks to see or delete their data: the export is one JSON file with their profile, consent history, events and messages. Both are written to the privacy audit log.' }),
    errors,
    h('div', { class: 'actions' }, exportButton, eraseButton),
  );
}

function computedPanel(c, currency) {
  const o = c.orders || {};
  const pairs = [
    ['Orders', num(o.count)],
    ['Total spent', money(o.total_spent, currency)],
    ['Average order', money(o.average_value, currency)],
    ['Refunded', money(o.refunded_total, currency)],
    ['First order', dateTime(o.first_at)],
    ['Last order', dateTime(o.last_at)],
    ['Cart value', money(c.cart?.value, currency)],
    ['Cart items', num((c.cart?.items || []).reduce((a, i) => a + (Number(i.quantity) || 0), 0))],
    ['Cart updated', dateTime(c.cart?.updated_at)],
    ['Last seen', dateTime(c.last_seen_at)],
    ['Lead score', num(c.lead?.score ?? 0)],
    ['Lifecycle stage', c.lifecycle?.stage ? h('span', {}, badge(stageName(c.lifecycle.stage)), c.lifecycle.since ? h('span', { class: 'muted small', text: ` since ${dateTime(c.lifecycle.since)}` }) : null) : 'None yet'],
  ];
  // Computed fields later releases add (lifecycle, scores, RFM, predictions) are shown as they come.
  for (const [k, v] of Object.entries(c)) {
    if (KNOWN_KEYS.has(k) || v === null || v === undefined) continue;
    if (typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) pairs.push([`${k}.${k2}`, typeof v2 === 'number' ? num(v2, 2) : brief(v2)]);
    } else pairs.push([k, typeof v === 'number' ? num(v, 2) : brief(v)]);
  }
  return panel('Computed fields', kv(pairs));
}

/** Orders with their products, the segments the person is in, and the flows they are going through. */
function journeyPanelsOf(j, tplNames, currency) {
  const orders = panel(
    'Orders',
    table(
      [
        { label: 'Placed', cell: (o) => dateTime(o.placed_at) },
        { label: 'Order', cell: (o) => o.order_id || '—' },
        {
          label: 'Products',
          cell: (o) =>
            (o.products || []).length
              ? h('ul', { class: 'list-plain' }, o.products.map((p) => h('li', { text: `${p.name || p.title || p.sku || p.product_id || 'A product'}${Number(p.quantity) > 1 ? ` × ${num(p.quantity)}` : ''}${p.price !== undefined ? `, ${money(p.price, o.currency || currency)}` : ''}` })))
              : '—',
        },
        { label: 'Total', num: true, cell: (o) => money(o.total, o.currency || currency) },
      ],
      j.orders || [],
      { empty: 'No orders yet.' },
    ),
  );
  const segments = panel(
    'In segments',
    (j.segments || []).length
      ? h('ul', { class: 'list-plain' }, j.segments.map((sg) => h('li', {}, h('a', { href: `/ui/segments/${encodeURIComponent(sg.id)}`, text: sg.name }), h('span', { class: 'muted small', text: ` · since ${dateTime(sg.since)}` }))))
      : h('p', { class: 'muted', text: 'Not in any segment right now.' }),
  );
  const flows = panel(
    'Flows in progress',
    (j.flows || []).length
      ? h(
          'ul',
          { class: 'list-plain' },
          j.flows.map((f) =>
            h(
              'li',
              {},
              h('a', { href: `/ui/flows/${encodeURIComponent(f.flow_id)}`, text: f.name }),
              h('span', { text: ` · now: ${describeStep(f.step, { templates: tplNames })}${f.waiting_until ? ` until ${dateTime(f.waiting_until)}` : ''}` }),
              h('span', { class: 'muted small', text: ` · entered ${dateTime(f.entered_at)}` }),
            ),
          ),
        )
      : h('p', { class: 'muted', text: 'Not in any flow right now.' }),
  );
  return [h('div', { class: 'grid two' }, segments, flows), orders];
}

export async function profile(ctx) {
  const id = ctx.params[0];
  const settings = await workspaceSettings();
  const currency = settings?.store?.currency || 'USD';
  const contact = await api(`/contacts/${encodeURIComponent(id)}`);
  const [events, messages, forms, journey, templates, flowsList, campaignsList] = await Promise.all([
    api(`/contacts/${contact.id}/events`, { query: { limit: 50 } }),
    api('/messages', { query: { contact_id: contact.id, limit: 20 } }).catch(() => ({ items: [] })),
    contact.traits?.consent_form ? api('/forms').catch(() => ({ items: [] })) : { items: [] },
    apiOptional(`/contacts/${contact.id}/journey`).catch(() => null),
    apiOptional('/templates').catch(() => null),
    apiOptional('/flows').catch(() => null),
    apiOptional('/campaigns').catch(() => null),
  ]);
  const names = { ...timelineNames(flowsList?.items || [], campaignsList?.items || [], templates?.items || [], messages.items || []), currency };
  const tplNames = Object.fromEntries((templates?.items || []).map((t) => [t.id, templateName(t)]));
  const formNames = Object.fromEntries((forms.items || []).map((f) => [f.id, f.name]));

  const consentSlot = h('div');
  const drawConsent = (c) => consentSlot.replaceChildren(consentPanel(c, drawConsent, settings?.topics || [], formNames));
  drawConsent(contact);

  const identity = panel(
    'Profile',
    kv([
      ['Email', contact.email],
      ['Phone', contact.phone],
      ['User id', contact.user_id],
      ['Anonymous ids', (contact.anonymous_ids || []).join(', ')],
      ['Time zone', contact.timezone],
      ['Locale', contact.locale],
      ['Contact id', String(contact.id)],
      ['Added to Kairos', dateTime(contact.created_at)],
    ]),
  );
  const traits = Object.entries(contact.traits || {});
  const traitsPanel = panel('Traits', traits.length ? kv(traits.map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])) : h('p', { class: 'muted', text: 'No traits.' }));
  const cartItems = contact.cart?.items || [];
  const cartPanel = cartItems.length
    ? panel(
        'Cart',
        table(
          [
            { label: 'Product', cell: (i) => i.name || i.product_id || i.sku || '—' },
            { label: 'Quantity', num: true, cell: (i) => num(i.quantity) },
            { label: 'Price', num: true, cell: (i) => money(i.price, currency) },
          ],
          cartItems,
        ),
      )
    : null;

  const journeyPanels = journey ? journeyPanelsOf(journey, tplNames, currency) : [];
  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Events, newest first' }, timelineItems(events.items || [], names));
  const timelinePanel = panel(
    'Timeline',
    events.items?.length ? timeline : h('p', { class: 'muted', text: 'No events yet.' }),
    pager((cursor) => api(`/contacts/${contact.id}/events`, { query: { limit: 50, cursor } }), (items) => timelineItems(items, names), timeline, events.next_cursor),
  );

  const msgList = (messages.items || []).map((m) => {
    const slot = h('div');
    const d = h(
      'details',
      {},
      h('summary', {}, statusBadge(m.status), ' ', h('strong', { text: m.subject || brief(m.body || m.text || m.channel, 60) }), h('span', { class: 'muted small', text: ` · ${m.channel} · ${dateTime(m.created_at)}` })),
      slot,
    );
    d.addEventListener('toggle', () => {
      if (d.open && !slot.childNodes.length) slot.append(messageView(m));
    });
    return h('li', {}, d);
  });
  const messagesPanel = panel('Messages', msgList.length ? h('ul', { class: 'list-plain' }, msgList) : h('p', { class: 'muted', text: 'No messages sent to this contact yet.' }));

  return h(
    'div',
    {},
    pageHead(contactName(contact), contact.email && contactName(contact) !== contact.email ? badge(contact.email) : null, h('a', { href: '/ui/contacts', class: 'button secondary', text: 'All contacts' })),
    contact.erased_at
      ? h('p', { class: 'notice erased-note', role: 'note', 'data-testid': 'erased' }, 'This person’s data was erased on ', localTime(contact.erased_at), '. The profile stays as an anonymous record so that order and revenue figures still add up; nothing is sent to it.')
      : null,
    h('div', { class: 'grid two' }, h('div', {}, identity, computedPanel(contact, currency)), h('div', {}, consentSlot, dataRightsPanel(contact, ctx), cartPanel, traitsPanel)),
    ...journeyPanels,
    timelinePanel,
    messagesPanel,
  );
}

