// The trigger event a template preview renders with (`{{ event.* }}`, and a cart's products when the person has
// none): one of the chosen contact's recent events, or a sample by type built from the workspace's catalog.
import { api, h, field, dateTime, workspaceSettings } from '../lib.js';

/** Events of the contact offered, newest first. */
const RECENT_EVENTS = 15;
/** Catalog products a sample event holds. */
const SAMPLE_PRODUCTS = 2;

const SAMPLES = [
  ['sample:checkout', 'Checkout Started: a cart with products of your catalog'],
  ['sample:viewed', 'Product Viewed: one product of your catalog'],
  ['sample:order', 'Order Completed: products of your catalog'],
];

let catalogPromise = null;
/** A few products in stock of the catalog as an event names them (invented ones when the catalog is empty). */
function sampleProducts() {
  catalogPromise ||= api('/products', { query: { limit: 20 } })
    .then((r) => (r.items || []).filter((p) => p.available !== false && p.inventory_quantity !== 0))
    .catch(() => [])
    .then((items) => {
      const picked = items.slice(0, SAMPLE_PRODUCTS).map((p) => ({ product_id: p.id, name: p.title || p.id, price: p.price ?? 0, quantity: 1, url: p.url || undefined, image_url: p.image_url || undefined }));
      return picked.length ? picked : [{ product_id: 'sample-1', name: 'Sample product', price: 25, quantity: 1 }];
    });
  return catalogPromise;
}

async function sample(kind) {
  const products = await sampleProducts();
  const currency = (await workspaceSettings().catch(() => null))?.store?.currency || 'USD';
  const value = products.reduce((sum, p) => sum + p.price * p.quantity, 0);
  if (kind === 'sample:viewed') return { ...products[0], currency };
  if (kind === 'sample:order') return { order_id: 'sample-order', total: value, currency, products };
  return { checkout_id: 'sample-checkout', value, currency, products };
}

/**
 * A "Trigger event" picker; `onChange` runs when the choice changes. `forContact(contact)` loads that contact's
 * recent events (once per contact) and answers the chosen event's properties (undefined for none).
 */
export function triggerEventPicker(onChange) {
  const control = h('select', { name: 'trigger-event' });
  control.addEventListener('change', onChange);
  let contactId = null;
  let recent = [];
  const draw = () => {
    const chosen = control.value;
    const events = recent.map((e, i) => h('option', { value: `recent:${i}`, text: `${e.event}, ${dateTime(e.timestamp)}` }));
    control.replaceChildren(
      h('option', { value: '', text: 'No event' }),
      h('optgroup', { label: 'Samples' }, SAMPLES.map(([v, label]) => h('option', { value: v, text: label }))),
      events.length ? h('optgroup', { label: 'Their recent events' }, events) : null,
    );
    control.value = [...control.options].some((o) => o.value === chosen) ? chosen : '';
  };
  draw();
  const forContact = async (c) => {
    if (c && c.id !== contactId) {
      contactId = c.id;
      const page = await api(`/contacts/${c.id}/events`, { query: { limit: 50 } }).catch(() => ({ items: [] }));
      recent = (page.items || []).filter((e) => e.type === 'track' && e.event).slice(0, RECENT_EVENTS);
      draw();
    }
    const v = control.value;
    if (v.startsWith('sample:')) return sample(v);
    if (v.startsWith('recent:')) return recent[Number(v.slice(7))]?.properties || {};
    return undefined;
  };
  const element = field('Trigger event', control, 'What {{ event }} holds in the preview (the event that starts a flow): one of the person’s recent events, or a sample.');
  return { element, forContact };
}
