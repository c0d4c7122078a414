// A contact's timeline said in sentences (issue 16 item 4): "Placed an order of €2,839.90", "Entered the segment
// “VIP customers”", "Became VIP (was First-time customer)", with a short line of detail beneath. Events without a
// sentence here keep their name and their properties.
import { money, brief } from '../lib.js';
import { STAGES } from './segments.js';

const STAGE_NAMES = Object.fromEntries(STAGES);
const stage = (s) => STAGE_NAMES[s] || String(s).replaceAll('_', ' ');
const quoted = (s) => (s ? `“${brief(s, 60)}”` : '');

/** The names of an event's products ("Folding Bike, Repair Stand × 2"). */
function productNames(p) {
  if (!Array.isArray(p.products)) return '';
  const names = p.products.slice(0, 4).map((x) => `${x?.name || x?.title || x?.sku || 'a product'}${Number(x?.quantity) > 1 ? ` × ${x.quantity}` : ''}`);
  const more = p.products.length - names.length;
  return `${names.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

const amount = (v, p) => (v === undefined || v === null || v === '' || !Number.isFinite(Number(v)) ? '' : money(Number(v), p.currency || p.storeCurrency || 'USD'));

/** [title, detail] of the events people recognise, or null. */
const SENTENCES = {
  'Order Completed': (p) => {
    const total = amount(p.total ?? p.revenue ?? p.value, p);
    return [`Placed an order${total ? ` of ${total}` : ''}`, [productNames(p), p.order_id ? `order ${p.order_id}` : ''].filter(Boolean).join(' · ')];
  },
  'Order Refunded': (p) => {
    const total = amount(p.total ?? p.value, p);
    return [`Was refunded${total ? ` ${total}` : ''}`, [productNames(p), p.order_id ? `order ${p.order_id}` : ''].filter(Boolean).join(' · ')];
  },
  'Checkout Started': (p) => {
    const total = amount(p.value ?? p.total, p);
    return [`Started a checkout${total ? ` of ${total}` : ''}`, productNames(p)];
  },
  'Product Added': (p) => [`Added ${quoted(p.name || p.title) || 'a product'} to the cart`, amount(p.price, p)],
  'Product Removed': (p) => [`Removed ${quoted(p.name || p.title) || 'a product'} from the cart`, ''],
  'Product Viewed': (p) => [`Viewed ${quoted(p.name || p.title) || 'a product'}`, [amount(p.price, p), p.category].filter(Boolean).join(' · ')],
  'Product List Viewed': (p) => [`Browsed ${p.category ? `the ${p.category}` : 'a product list'}`, ''],
  'Products Searched': (p) => [`Searched for ${quoted(p.query) || 'products'}`, ''],
  'Cart Viewed': (p) => ['Looked at the cart', productNames(p)],
  'Segment Entered': (p) => [`Entered the segment ${quoted(p.segment_name) || 'a segment'}`, ''],
  'Segment Exited': (p) => [`Left the segment ${quoted(p.segment_name) || 'a segment'}`, ''],
  'Flow Entered': (p) => [`Started the flow ${quoted(p.flow_name) || 'a flow'}`, ''],
  'Lifecycle Stage Changed': (p) => [
    p.to ? `Became ${stage(p.to)}${p.from ? ` (was ${stage(p.from)})` : ''}` : `Left the stage ${stage(p.from)}`,
    Number.isFinite(Number(p.score)) && p.score !== null ? `lead score ${p.score}` : '',
  ],
  'Email Subscribed': (p) => ['Subscribed to email', p.source ? `through ${String(p.source).replaceAll('_', ' ')}` : ''],
  'SMS Subscribed': (p) => ['Subscribed to text messages', p.source ? `through ${String(p.source).replaceAll('_', ' ')}` : ''],
  'Coupon Issued': (p) => [`Was given the code ${p.code || ''}`.trim(), p.expires_at ? `valid until ${String(p.expires_at).slice(0, 10)}` : ''],
  'Coupon Revealed': (p) => [`Revealed the code ${p.code || ''} on a landing page`.trim(), ''],
  'Form Submitted': (p) => [`Filled in the form ${quoted(p.form_name) || ''}`.trim(), p.page ? brief(p.page, 60) : ''],
  'Task Created': (p) => ['The team was given a task', p.task ? brief(p.task, 100) : ''],
  'Signed Up': () => ['Signed up', ''],
};

/** [title, detail] for a track event people recognise, else null; amounts without a currency are the store's. */
export function commerceSentence(e, storeCurrency = 'USD') {
  const say = e.type === 'track' ? SENTENCES[e.event] : null;
  return say ? say({ ...(e.properties || {}), storeCurrency }) : null;
}
