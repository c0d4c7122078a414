// Shows a message as its recipient would see it, safely: HTML in a sandboxed frame (no scripts, no forms, no
// navigation out), with the open-tracking pixel removed and links disarmed, so viewing is not an open or a click.
import { api, h, badge, dateTime, statusBadge } from './lib.js';

/** The message's HTML made inert: no scripts, no tracking pixel, links that go nowhere (their URL as a tooltip). */
export function inertHtml(html) {
  const doc = new DOMParser().parseFromString(String(html), 'text/html');
  doc.querySelectorAll('script, meta[http-equiv], base, link[rel="prefetch"], link[rel="preload"]').forEach((n) => n.remove());
  doc.querySelectorAll('img').forEach((img) => {
    const src = img.getAttribute('src') || '';
    const tiny = img.getAttribute('width') === '1' && img.getAttribute('height') === '1';
    if (tiny || /\/o\/[^/?#]+/.test(src)) img.remove();
  });
  doc.querySelectorAll('a[href]').forEach((a) => {
    a.setAttribute('title', a.getAttribute('href'));
    a.setAttribute('href', '#');
    a.removeAttribute('target');
  });
  return '<!doctype html>' + doc.documentElement.outerHTML;
}

/** Why a message was skipped or waited, in words (the API's reason codes). */
const REASONS = {
  smart_sending: 'smart sending: one marketing message per person within the window',
  quiet_hours: 'quiet hours in the person’s time zone',
  frequency_cap: 'the daily cap',
  weekly_cap: 'the weekly cap',
  chosen_frequency: 'the person’s chosen frequency',
  send_time: 'the person’s best send time',
  topic_unsubscribed: 'the person left this topic',
  no_consent: 'no consent',
  unsubscribed: 'unsubscribed',
  suppressed: 'the address is suppressed',
  no_address: 'no address',
};

export function reasonText(code) {
  return REASONS[code] || String(code || '').replaceAll('_', ' ');
}

/** The message's status changes, each with its reason; a wait names the earlier message it waited for. */
function historyView(m) {
  const entries = Array.isArray(m.history) ? m.history : [];
  if (entries.length < 2 && !entries.some((e) => e.behind)) return null;
  const items = entries.map((e) => {
    const li = h('li', {}, statusBadge(e.status), ` ${dateTime(e.at)}`, e.reason ? ` · ${reasonText(e.reason)}` : '');
    if (e.behind) {
      const what = h('span', { text: ' · behind an earlier message' });
      li.append(what);
      api(`/messages/${encodeURIComponent(e.behind)}`)
        .then((b) => {
          const kind = b.campaign_id ? 'campaign' : b.flow_id ? 'flow' : 'message';
          what.textContent = ` · behind “${b.subject || 'a message'}” (${kind}, priority ${b.priority ?? '—'}, ${dateTime(b.created_at)})`;
        })
        .catch(() => {});
    }
    return li;
  });
  return h('details', { class: 'headers', open: entries.some((e) => e.behind) }, h('summary', { text: 'History' }), h('ol', { class: 'history' }, items));
}

let sources = null;
/** The workspace's flows and campaigns by id, read once per page load (a message names where it came from). */
function sourceNames() {
  sources ??= Promise.all([api('/flows').catch(() => ({ items: [] })), api('/campaigns').catch(() => ({ items: [] }))]).then(([f, c]) => ({
    flows: Object.fromEntries((f.items || []).map((x) => [x.id, x.name])),
    campaigns: Object.fromEntries((c.items || []).map((x) => [x.id, x.name])),
  }));
  return sources;
}

/** " · from Welcome series" (or the campaign's name), filled in once the names are read. */
function fromWhere(m) {
  if (!m.flow_id && !m.campaign_id) return '';
  const span = h('span', { text: m.flow_id ? ' · from a flow' : ' · from a campaign' });
  sourceNames().then((n) => {
    const name = m.flow_id ? n.flows[m.flow_id] : n.campaigns[m.campaign_id];
    if (name) span.textContent = m.flow_id ? ` · from ${name}` : ` · from the campaign ${name}`;
  });
  return span;
}

/** A message (outbox item, message record or template preview): headers, then the body. */
export function messageView(m, { title } = {}) {
  const rows = [
    m.subject ? h('div', {}, h('strong', { text: 'Subject: ' }), m.subject, m.variant ? h('span', { class: 'small muted', text: ` (subject line ${m.variant} of a test)` }) : null) : null,
    m.preview_text ? h('div', {}, h('strong', { text: 'Preview text: ' }), m.preview_text) : null,
    m.to ? h('div', {}, h('strong', { text: 'To: ' }), m.to) : null,
    h(
      'div',
      { class: 'small muted' },
      m.channel ? badge(m.channel, 'accent') : null,
      ' ',
      m.status ? statusBadge(m.status) : null,
      m.reason ? ` ${reasonText(m.reason)}` : '',
      m.created_at ? ` · ${dateTime(m.created_at)}` : '',
      fromWhere(m),
    ),
  ];
  const view = h('div', { class: 'message-view' }, h('div', { class: 'headers' }, rows), historyView(m));
  // Links left untracked (a host outside the store's domains) or removed (a script URL) when rendered.
  for (const w of m.warnings ?? []) view.append(h('p', { class: 'notice', text: w }));
  if (m.html) {
    view.append(
      h('iframe', {
        sandbox: '',
        srcdoc: inertHtml(m.html),
        title: title || `Message: ${m.subject || m.id || ''}`,
        referrerpolicy: 'no-referrer',
        loading: 'lazy',
      }),
    );
    if (m.text) view.append(h('details', { class: 'headers' }, h('summary', { text: 'Plain-text part' }), h('pre', { text: m.text })));
  } else if (m.body || m.text) {
    view.append(h('div', { class: 'sms-bubble', text: m.body || m.text }));
  } else if (m.skipped) {
    view.append(h('p', { class: 'notice', text: `Would be skipped: ${m.skipped}` }));
  } else {
    view.append(h('p', { class: 'muted', text: 'No content.' }));
  }
  return view;
}
