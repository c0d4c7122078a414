// The fields of each section of a block email, in words, bound to the section's object. Controls are named by
// their API path (`blocks[2].url`) so a refusal from the server marks and focuses the control it names.
import { h, field, select } from '../lib.js';

const ALIGN = [['left', 'Left'], ['center', 'Centre'], ['right', 'Right']];
const SOURCES = [
  ['cart', 'The cart: the person’s cart, else the trigger event’s products (a checkout’s)'],
  ['event', 'The trigger event’s products (a viewed product, an order’s items)'],
  ['recommendations', 'Recommendations for the person'],
  ['collection', 'A collection: one category of your catalog'],
];
const RECOMMENDATIONS = [
  ['trending', 'Trending in the store'],
  ['based_on_history', 'Based on what they viewed and bought'],
  ['also_bought', 'Often bought with the event’s products'],
  ['also_viewed', 'Often viewed with the event’s products'],
  ['recently_viewed', 'What they viewed recently'],
];
const LIQUID_HINT = 'Shown as typed. Insert a value with {{ contact.first_name | default: "there" }}.';
const URL_HINT = 'An address such as https://shop.example/sale, or a value such as {{ event.checkout_url }}.';

/** A labelled control bound to `b[key]`; `ctx.prefix` names it as the API does. */
function bound(label, b, key, ctx, { type = 'text', textarea = false, hint, attrs = {} } = {}) {
  const name = `${ctx.prefix}.${key}`;
  const control = textarea
    ? h('textarea', { name, value: b[key] ?? '', rows: 4, ...attrs })
    : h('input', { type, name, value: b[key] ?? '', autocomplete: 'off', ...attrs });
  control.addEventListener('input', () => {
    b[key] = type === 'number' ? (control.value === '' ? '' : Number(control.value)) : control.value;
  });
  return field(label, control, hint);
}

function choice(label, b, key, options, ctx, { hint, redraw = false } = {}) {
  const control = select(options, b[key] ?? options[0][0], { name: `${ctx.prefix}.${key}` });
  control.addEventListener('change', () => {
    b[key] = control.value;
    if (redraw) ctx.redraw();
    else ctx.changed();
  });
  return field(label, control, hint);
}

function productFields(b, ctx) {
  const source = b.source || 'cart';
  return [
    bound('Heading (optional)', b, 'heading', ctx),
    choice('Products from', b, 'source', SOURCES, ctx, { redraw: true, hint: 'Only products in stock are shown; an empty list shows no cards.' }),
    source === 'recommendations' ? choice('Which recommendations', b, 'recommendation', RECOMMENDATIONS, ctx) : null,
    source === 'collection'
      ? bound('Category', b, 'collection', ctx, { attrs: { list: ctx.listId }, hint: 'A category of your catalog, as your products have it (capitals do not matter).' })
      : null,
    h(
      'div',
      { class: 'row' },
      bound('How many', b, 'count', ctx, { type: 'number', attrs: { min: 1, max: 6, step: 1 }, hint: '1 to 6.' }),
      choice('Side by side', b, 'columns', [['1', 'One'], ['2', 'Two'], ['3', 'Three']], ctx, { hint: 'Phones show fewer.' }),
    ),
    bound('Link under each product (optional)', b, 'button_label', ctx, { hint: 'Such as “Shop now”; it opens the product.' }),
  ];
}

/** The fields of section `b`. ctx: { prefix, changed, redraw, listId }. */
export function blockFields(b, ctx) {
  switch (b.type) {
    case 'header':
      return [
        bound('Preview text (optional)', b, 'preheader', ctx, { hint: 'Inboxes show it after the subject; hidden in the email.' }),
        h(
          'details',
          {},
          h('summary', { text: 'Logo and link' }),
          bound('Logo address (optional)', b, 'logo_url', ctx, { type: 'url', hint: 'Your store’s logo (Settings) when empty, else its name.' }),
          bound('Logo description (optional)', b, 'alt', ctx, { hint: 'Your store’s name when empty.' }),
          bound('Logo links to (optional)', b, 'link_url', ctx, { hint: 'Your store’s address when empty.' }),
        ),
      ];
    case 'text':
      return [
        bound('Heading (optional)', b, 'heading', ctx),
        bound('Text', b, 'text', ctx, { textarea: true, attrs: { rows: 5 }, hint: `A blank line starts a new paragraph. ${LIQUID_HINT}` }),
        choice('Alignment', b, 'align', ALIGN, ctx),
      ];
    case 'image':
      return [
        bound('Picture address', b, 'url', ctx, { hint: 'The picture’s https:// address.' }),
        bound('What the picture shows', b, 'alt', ctx, { hint: 'For people who cannot see it, and mail apps that block pictures.' }),
        h(
          'div',
          { class: 'row' },
          bound('Links to (optional)', b, 'link_url', ctx, { hint: URL_HINT }),
          bound('Width in pixels', b, 'width', ctx, { type: 'number', attrs: { min: 40, max: 600, step: 10 }, hint: '600 fills the email; phones shrink it.' }),
        ),
      ];
    case 'button':
      return [
        h('div', { class: 'row' }, bound('Button words', b, 'label', ctx), choice('Alignment', b, 'align', ALIGN, ctx)),
        bound('Button links to', b, 'url', ctx, { hint: URL_HINT }),
        bound('Colour (optional)', b, 'color', ctx, { attrs: { placeholder: '#1a56db', pattern: '#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})' }, hint: 'Like #1a56db; your store’s colour (Settings) when empty.' }),
      ];
    case 'products':
      return productFields(b, ctx);
    case 'coupon':
      return [
        bound('Heading (optional)', b, 'heading', ctx),
        bound('Text (optional)', b, 'text', ctx, { textarea: true, attrs: { rows: 2 } }),
        bound('Code for everyone (optional)', b, 'code', ctx, {
          hint: 'In a flow, an “Issue a coupon” step gives each person their own code, which shows here. This code shows when the message has none; without it the section is left out.',
        }),
      ];
    case 'footer':
      return [
        h('p', { class: 'small muted', text: 'Always shows your store’s name and address (Settings) and the Email preferences and Unsubscribe links.' }),
        bound('A line above them (optional)', b, 'text', ctx, { hint: 'Such as why the person gets this email.' }),
      ];
    case 'spacer':
      return [bound('Height in pixels', b, 'height', ctx, { type: 'number', attrs: { min: 8, max: 96, step: 4 }, hint: '8 to 96.' })];
    default:
      return [h('p', { class: 'small muted', text: 'A thin line between sections.' })];
  }
}
