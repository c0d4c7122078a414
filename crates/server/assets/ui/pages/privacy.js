// Privacy requests and audit log: every export and erasure of a person's data, and every privacy request a store
// platform sent (Shopify's customers/data_request, customers/redact, shop/redact), in words: when, who, what,
// about whom. A Shopify data request is a task for the store owner, so it carries the download to send them.
import { api, download, h, pageHead, panel, table, busy, toast, localTime, PLATFORM_NAMES } from '../lib.js';

/** Audit lines listed (the API answers at most 1000). */
const AUDIT_LINES = 100;
/** Contacts looked up at once to name the people the lines are about. */
const LOOKUPS_AT_ONCE = 4;

const CONTACT_REF = /contact:(\d+)/g;
const PLATFORM_WORD = /\b(shopify|woocommerce|magento)\b/g;

const platformName = (p) => PLATFORM_NAMES[p] || null;

/** Who did it: `key:…abcd`, `user:EMAIL`, or a platform. */
function who(actor) {
  const a = String(actor || '');
  if (a.startsWith('key:')) return `API key ending ${a.slice(4).replace(/^…/, '')}`;
  if (a.startsWith('user:')) return a.slice(5) || 'A user of this workspace';
  if (a === 'user') return 'A user of this workspace';
  return platformName(a) || a || '—';
}

/** What was done, in words. */
function what(e) {
  const platform = platformName(e.actor) || 'The store platform';
  switch (e.action) {
    case 'contact.export':
      return 'Exported a person’s data';
    case 'contact.erase':
      return 'Erased a person';
    case 'privacy.data_request':
      return `${platform} data request`;
    case 'privacy.redact':
      return `${platform} asked to erase a customer`;
    case 'privacy.shop_redact':
      return `${platform} asked to erase the shop’s data`;
    default:
      return String(e.action || '—');
  }
}

/** The contact ids a line names (in its subject or its detail). */
function contactIds(e) {
  const ids = [];
  for (const text of [e.subject, e.detail]) for (const m of String(text || '').matchAll(CONTACT_REF)) ids.push(m[1]);
  return ids;
}

/** The named contacts (id → contact, or null when gone), a few requests at a time. */
async function lookUp(ids) {
  const found = new Map();
  const queue = [...new Set(ids)];
  async function worker() {
    while (queue.length) {
      const id = queue.shift();
      found.set(id, await api(`/contacts/${encodeURIComponent(id)}`).catch(() => null));
    }
  }
  await Promise.all(Array.from({ length: LOOKUPS_AT_ONCE }, worker));
  return found;
}

/** A contact in words: their name or email while they have one, else "Contact #ID". */
function personWords(id, contacts) {
  const c = contacts.get(id);
  if (!c || c.erased_at) return `Contact #${id}${c?.erased_at ? ' (erased)' : ''}`;
  const t = c.traits || {};
  const name = [t.first_name || t.firstName, t.last_name || t.lastName].filter(Boolean).join(' ') || t.name;
  return name || c.email || c.phone || `Contact #${id}`;
}

function personLink(id, contacts) {
  return h('a', { href: `/ui/contacts/${encodeURIComponent(id)}`, text: personWords(id, contacts) });
}

/** The subject: links to the contacts it names, a platform's name, or a dash. */
function subject(e, contacts) {
  const ids = [...String(e.subject || '').matchAll(CONTACT_REF)].map((m) => m[1]);
  if (ids.length) return h('span', {}, ids.map((id, i) => [i ? ', ' : '', personLink(id, contacts)]));
  if (platformName(e.subject)) return `The ${platformName(e.subject)} connection`;
  if (e.action === 'privacy.data_request' || e.action === 'privacy.redact') return 'No contact found';
  return e.subject || '—';
}

/** The detail sentence with contact references as links and platforms by their names. */
function detail(e, contacts) {
  const text = String(e.detail || '').replace(PLATFORM_WORD, (p) => platformName(p));
  const out = [];
  let at = 0;
  for (const m of text.matchAll(CONTACT_REF)) {
    out.push(text.slice(at, m.index), personLink(m[1], contacts));
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}

/** A platform's data request asks the store owner to pass the person's data on: the download, per person. */
function dataRequestTask(e, contacts) {
  const named = [...new Set(contactIds(e))];
  if (e.action !== 'privacy.data_request' || !named.length) return null;
  const ids = named.filter((id) => !contacts.get(id)?.erased_at);
  if (!ids.length) return h('p', { class: 'muted small', text: 'This person was erased since: there is nothing left to send.' });
  return h(
    'div',
    { class: 'todo', role: 'note' },
    h('p', { text: 'Download this person’s data and send it to the store owner.' }),
    h(
      'div',
      { class: 'actions' },
      ids.map((id) => {
        const button = h('button', { type: 'button', class: 'secondary', text: `Download the data of ${personWords(id, contacts)}` });
        button.addEventListener('click', () =>
          busy(button, async () => {
            await download(`/contacts/${encodeURIComponent(id)}/export`, `kairos-contact-${id}.json`);
            toast('Data exported');
          }),
        );
        return button;
      }),
    ),
  );
}

export async function render() {
  const log = await api('/audit-log', { query: { limit: AUDIT_LINES } });
  const entries = log.entries || [];
  const contacts = await lookUp(entries.flatMap(contactIds));
  const list = table(
    [
      { label: 'When', cell: (e) => localTime(e.at) },
      { label: 'Who', cell: (e) => who(e.actor) },
      { label: 'What', cell: (e) => h('strong', { text: what(e) }) },
      { label: 'About', cell: (e) => subject(e, contacts) },
      { label: 'Details', cell: (e) => h('div', {}, h('div', {}, detail(e, contacts)), dataRequestTask(e, contacts)) },
    ],
    entries,
    {
      caption: entries.length >= AUDIT_LINES ? `The ${AUDIT_LINES} newest entries, newest first` : 'Newest first',
      empty: 'Nothing recorded yet: exports, erasures and your store platform’s privacy requests appear here.',
      rowAttrs: (e) => ({ 'data-action': e.action }),
    },
  );
  return h(
    'div',
    {},
    pageHead('Privacy requests and audit log'),
    panel(
      null,
      h('p', {}, 'Every export and erasure of a person’s data, and every privacy request your store platform sent, with who asked and when. Kairos answers Shopify’s erasure requests by itself; a data request needs you: download the person’s data and send it on. To export or erase someone yourself, open their profile under ', h('a', { href: '/ui/contacts', text: 'Contacts' }), '.'),
    ),
    panel(null, h('div', { class: 'audit' }, list)),
  );
}
