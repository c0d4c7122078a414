// Catalog and inventory: products with their stock; the quantity and availability are edited in place.
import { api, h, pageHead, panel, num, plural, money, safeUrl, busy, toast, workspaceSettings, pager, errorBox } from '../lib.js';

/** The product as PUT /products/{id} takes it (the response adds updated_at). */
function productBody(p) {
  const { updated_at: _ignored, ...rest } = p;
  return rest;
}

function row(p, currency) {
  const qty = h('input', { type: 'number', step: '1', value: p.inventory_quantity ?? '', name: 'inventory_quantity', 'aria-label': `Inventory of ${p.title || p.id}`, style: 'max-width:7rem' });
  const avail = h('input', { type: 'checkbox', name: 'available', checked: p.available !== false, 'aria-label': `${p.title || p.id} is available` });
  const save = h('button', { type: 'button', class: 'secondary', text: 'Save', 'aria-label': `Save inventory of ${p.title || p.id}` });
  const state = h('span', { class: 'small', 'aria-live': 'polite' });
  save.addEventListener('click', () =>
    busy(save, async () => {
      const body = productBody(p);
      body.inventory_quantity = qty.value === '' ? null : Math.trunc(Number(qty.value));
      body.available = avail.checked;
      const saved = await api(`/products/${encodeURIComponent(p.id)}`, { method: 'PUT', body });
      Object.assign(p, saved);
      state.replaceChildren(saved.available ? 'in stock' : 'sold out');
      toast(`Saved ${saved.title || saved.id}`);
    }).catch((e) => state.replaceChildren(errorBox(e))),
  );
  const img = safeUrl(p.image_url);
  const link = safeUrl(p.url);
  return h(
    'tr',
    { 'data-product': p.id },
    h('td', { 'data-label': 'Image' }, img ? h('img', { class: 'thumb', src: img, alt: '', loading: 'lazy', referrerpolicy: 'no-referrer' }) : ''),
    h('td', { 'data-label': 'Product' }, link ? h('a', { href: link, target: '_blank', rel: 'noopener noreferrer', text: p.title || p.id }) : p.title || p.id, h('div', { class: 'small muted', text: [p.sku, (p.categories || []).join(', ')].filter(Boolean).join(' · ') })),
    h('td', { class: 'num', 'data-label': 'Price' }, money(p.price, p.currency || currency), p.compare_at_price ? h('div', { class: 'small muted', text: `was ${money(p.compare_at_price, p.currency || currency)}` }) : null),
    h('td', { 'data-label': 'Inventory' }, qty),
    h('td', { 'data-label': 'Available' }, avail),
    h('td', { 'data-label': '' }, save, ' ', state),
  );
}

export async function render() {
  const settings = await workspaceSettings();
  const currency = settings?.store?.currency || 'USD';
  const page = await api('/products', { query: { limit: 100 } });
  const items = page.items || [];
  const filter = h('input', { type: 'search', id: 'catalog-filter', autocomplete: 'off' });
  const tbody = h('tbody', {}, items.map((p) => row(p, currency)));
  const t = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'responsive' },
      h('thead', {}, h('tr', {}, ['Image', 'Product', 'Price', 'Inventory', 'Available', ''].map((c, i) => h('th', { scope: 'col', class: i === 2 ? 'num' : null, text: c })))),
      tbody,
    ),
  );
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const tr of tbody.children) tr.hidden = q !== '' && !tr.textContent.toLowerCase().includes(q);
  });
  const soldOut = items.filter((p) => p.available === false).length;
  return h(
    'div',
    {},
    pageHead('Catalog'),
    h('p', { class: 'muted', text: `${page.next_cursor ? `${num(items.length)}+ products` : plural(items.length, 'product')}; ${num(soldOut)} sold out. Sold-out products are never promoted in messages.` }),
    panel(
      null,
      h('div', { class: 'field' }, h('label', { for: 'catalog-filter', text: 'Filter by title, SKU or category' }), filter),
      items.length ? t : h('p', { class: 'muted', text: 'No products yet: send them to PUT /api/v1/products/{id} or /api/v1/products/bulk.' }),
      pager((cursor) => api('/products', { query: { limit: 100, cursor } }), (more) => more.map((p) => row(p, currency)), tbody, page.next_cursor),
    ),
  );
}
