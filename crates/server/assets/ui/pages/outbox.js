// Outbox: messages captured instead of sent, shown as the recipient would see them.
import { api, h, pageHead, panel, field, select, dateTime, badge, brief, busy } from '../lib.js';
import { messageView } from '../preview.js';

export async function render(ctx) {
  const to = ctx.query.get('to') || '';
  const flowId = ctx.query.get('flow_id') || '';
  const [page, flows] = await Promise.all([api('/outbox', { query: { to, flow_id: flowId, limit: 50 } }), api('/flows').catch(() => ({ items: [] }))]);
  const toInput = h('input', { type: 'search', name: 'to', value: to, autocomplete: 'off' });
  const flowNames = Object.fromEntries((flows.items || []).map((f) => [f.id, f.name]));
  const flowSelect = select([['', 'All flows'], ...(flows.items || []).map((f) => [f.id, f.name])], flowId, { name: 'flow_id' });
  const form = h('form', { class: 'row', role: 'search', 'aria-label': 'Filter the outbox' }, field('Recipient address', toInput), field('Flow', flowSelect), h('div', { class: 'field' }, h('button', { type: 'submit', text: 'Filter' })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (toInput.value.trim()) q.set('to', toInput.value.trim());
    if (flowSelect.value) q.set('flow_id', flowSelect.value);
    ctx.navigate(`/ui/outbox${q.toString() ? `?${q}` : ''}`);
  });

  const viewer = h('div', { class: 'panel', 'aria-live': 'polite', id: 'outbox-viewer' });
  const listEl = h('ul', { class: 'list-select', 'aria-label': 'Captured messages, newest first' });
  const buttons = [];
  const show = (m, b) => {
    for (const o of buttons) o.setAttribute('aria-current', String(o === b));
    viewer.replaceChildren(messageView(m));
  };
  const addItems = (items) =>
    items.map((m) => {
      const b = h(
        'button',
        { type: 'button', 'aria-current': 'false', 'data-message': m.id },
        h('div', {}, badge(m.channel, 'accent'), ' ', h('strong', { text: m.subject || brief(m.body || m.text || '(empty)', 70) })),
        h('div', { class: 'sub', text: `${m.to || ''} · ${dateTime(m.created_at)}${m.flow_id ? ` · ${flowNames[m.flow_id] || 'a flow'}` : ''}` }),
      );
      b.addEventListener('click', () => show(m, b));
      buttons.push(b);
      return h('li', {}, b);
    });
  const items = page.items || [];
  listEl.append(...addItems(items));
  let cursor = page.next_cursor;
  const more = h('button', { type: 'button', class: 'secondary', text: 'Load more', hidden: !cursor });
  more.addEventListener('click', () =>
    busy(more, async () => {
      const p = await api('/outbox', { query: { to, flow_id: flowId, limit: 50, cursor } });
      listEl.append(...addItems(p.items || []));
      cursor = p.next_cursor;
      more.hidden = !cursor;
    }),
  );
  if (items.length) show(items[0], buttons[0]);
  else viewer.append(h('p', { class: 'muted', text: 'Nothing captured yet. Messages sent by flows and campaigns with the capture transport appear here.' }));
  return h('div', {}, pageHead('Outbox'), panel(null, form), h('div', { class: 'split-view' }, panel(null, items.length ? listEl : h('p', { class: 'muted', text: 'No messages.' }), h('p', {}, more)), viewer));
}
