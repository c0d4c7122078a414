// The block email editor beside the HTML editor (templates.js hooks it into an email template's form): a switch
// "Blocks | HTML", a palette of sections, each section's fields in words, reordering by drag and drop or by
// buttons (keyboard and touch), and the `blocks` list the API takes. The server renders the blocks to the
// email's HTML, so the live preview and what is sent are the same.
import { allItems, h, nextId, confirmDialog } from '../lib.js';
import { blockFields } from './email-blocks-fields.js';

/** The palette, in the order it is offered: [type, button words, what the section is]. */
const PALETTE = [
  ['header', 'Header', 'Your logo or store name'],
  ['text', 'Text', 'A heading and paragraphs'],
  ['image', 'Image', 'A picture, optionally a link'],
  ['button', 'Button', 'A call to action'],
  ['products', 'Products', 'From the cart, recommendations or a collection'],
  ['coupon', 'Coupon', 'The person’s discount code'],
  ['divider', 'Divider', 'A thin line'],
  ['spacer', 'Spacer', 'Empty space'],
  ['footer', 'Footer', 'Address, preferences and unsubscribe links'],
];
export const BLOCK_NAMES = Object.fromEntries(PALETTE.map(([type, name]) => [type, name]));

/** A new section of `type` with sensible words to start from. */
function newBlock(type) {
  switch (type) {
    case 'text':
      return { type, heading: '', text: 'Hi {{ contact.first_name | default: "there" }},\n\nWrite your message here. A blank line starts a new paragraph.', align: 'left' };
    case 'image':
      return { type, url: '', alt: '', link_url: '', width: 600 };
    case 'button':
      return { type, label: 'Shop now', url: '{{ store.url }}', color: '', align: 'center' };
    case 'products':
      return { type, heading: 'Picked for you', source: 'recommendations', recommendation: 'trending', collection: '', count: 3, columns: 3, button_label: 'Shop now' };
    case 'coupon':
      return { type, heading: 'Your discount code', text: '', code: '' };
    case 'spacer':
      return { type, height: 24 };
    case 'header':
      return { type, preheader: '' };
    case 'footer':
      return { type, text: '' };
    default:
      return { type };
  }
}

/** What a new email starts from. */
const STARTER = () => [newBlock('header'), newBlock('text'), newBlock('button'), newBlock('footer')];

const NUMBERS = ['count', 'columns', 'width', 'height'];

/** The list the API takes: empty texts and the other sources' fields left out, numbers as numbers. */
function clean(blocks) {
  const unused = (b, k) => (k === 'recommendation' && b.source !== 'recommendations') || (k === 'collection' && b.source !== 'collection');
  return blocks.map((b) =>
    Object.fromEntries(
      Object.entries(b)
        .filter(([k, v]) => v !== '' && v !== null && v !== undefined && !unused(b, k))
        .map(([k, v]) => [k, NUMBERS.includes(k) ? Number(v) : v]),
    ),
  );
}

/** The workspace's catalog categories, for a collection's suggestions (loaded once). */
let categoriesPromise = null;
function categories() {
  categoriesPromise ||= allItems('/products', {}, 1000)
    .then((r) => [...new Set((r.items || []).flatMap((p) => p.categories || []))].sort())
    .catch(() => []);
  return categoriesPromise;
}

/**
 * The block editor of an email template `t`. `channel` is the form's channel select; `onChange` runs after a
 * switch of mode or a change of the list (templates.js re-shows its parts and re-checks the unsubscribe link).
 * Answers { element, active(), hides(part), hasFooter(), apply(body) }.
 */
export function emailBlocks({ t, isNew, channel, onChange }) {
  const state = { mode: Array.isArray(t.blocks) || isNew ? 'blocks' : 'html', blocks: Array.isArray(t.blocks) ? t.blocks.map((b) => ({ ...b })) : STARTER() };
  const listId = nextId('categories');
  const datalist = h('datalist', { id: listId });
  categories().then((cs) => datalist.replaceChildren(...cs.map((c) => h('option', { value: c }))));
  const box = h('ol', { class: 'email-blocks', 'aria-label': 'Sections of the email, top to bottom' });
  const status = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  const element = h('div', { class: 'email-blocks-editor' });
  const changed = () => element.dispatchEvent(new Event('input', { bubbles: true }));

  const move = (from, to, focusAction) => {
    if (to < 0 || to >= state.blocks.length || from === to) return;
    state.blocks.splice(to, 0, state.blocks.splice(from, 1)[0]);
    status.textContent = `${BLOCK_NAMES[state.blocks[to].type]} moved to position ${to + 1} of ${state.blocks.length}.`;
    redraw(focusAction ? { index: to, action: focusAction } : null);
  };

  let dragged = null;
  const item = (b, i) => {
    const n = i + 1;
    const name = BLOCK_NAMES[b.type] || b.type;
    const button = (text, label, onclick, attrs = {}) => h('button', { type: 'button', class: 'secondary small-button', text, 'aria-label': `${label}: section ${n}, ${name}`, onclick, dataset: { action: label, index: String(i) }, ...attrs });
    const handle = h('span', { class: 'drag-handle', draggable: 'true', title: 'Drag to move', 'aria-hidden': 'true', text: '⠿' });
    const li = h(
      'li',
      { class: 'email-block', dataset: { type: b.type, index: String(i) } },
      h(
        'div',
        { class: 'email-block-head' },
        handle,
        h('h3', { text: `${n}. ${name}` }),
        h(
          'div',
          { class: 'email-block-actions' },
          button('↑', 'Move up', () => move(i, i - 1, 'Move up'), { disabled: i === 0 }),
          button('↓', 'Move down', () => move(i, i + 1, 'Move down'), { disabled: i === state.blocks.length - 1 }),
          button('Remove', 'Remove', () => remove(i), { class: 'danger small-button' }),
        ),
      ),
      h('div', { class: 'email-block-fields' }, blockFields(b, { prefix: `blocks[${i}]`, changed, redraw: () => redraw(), listId })),
    );
    // HTML5 drag and drop from the handle; the whole section is the drop target (above or below its middle).
    handle.addEventListener('dragstart', (e) => {
      dragged = i;
      e.dataTransfer.effectAllowed = 'move';
      e.dataTransfer.setData('text/plain', String(i));
      e.dataTransfer.setDragImage?.(li, 16, 16);
      li.classList.add('dragging');
    });
    handle.addEventListener('dragend', () => {
      dragged = null;
      li.classList.remove('dragging');
    });
    li.addEventListener('dragover', (e) => {
      if (dragged === null) return;
      e.preventDefault();
      const below = e.clientY > li.getBoundingClientRect().top + li.offsetHeight / 2;
      li.classList.toggle('drop-before', !below);
      li.classList.toggle('drop-after', below);
    });
    li.addEventListener('dragleave', () => li.classList.remove('drop-before', 'drop-after'));
    li.addEventListener('drop', (e) => {
      if (dragged === null) return;
      e.preventDefault();
      const below = li.classList.contains('drop-after');
      li.classList.remove('drop-before', 'drop-after');
      const from = dragged;
      const to = Math.max(0, Math.min(state.blocks.length - 1, i + (below ? 1 : 0) - (from < i ? 1 : 0)));
      dragged = null;
      move(from, to);
    });
    return li;
  };

  const remove = (i) => {
    const [gone] = state.blocks.splice(i, 1);
    status.textContent = `${BLOCK_NAMES[gone.type]} removed.`;
    redraw();
    (box.children[Math.min(i, state.blocks.length - 1)]?.querySelector('input, textarea, select, button') || palette.querySelector('button'))?.focus();
  };

  const redraw = (focus) => {
    box.replaceChildren(...state.blocks.map(item));
    if (!state.blocks.length) box.append(h('li', { class: 'muted', text: 'No sections yet: add one below.' }));
    if (focus) {
      const again = box.querySelector(`button[data-index="${focus.index}"][data-action="${focus.action}"]`);
      (again && !again.disabled ? again : box.children[focus.index]?.querySelector('button'))?.focus();
    }
    changed();
    onChange?.();
  };

  const palette = h(
    'div',
    { class: 'email-palette', role: 'group', 'aria-label': 'Add a section' },
    PALETTE.map(([type, name, what]) =>
      h('button', {
        type: 'button',
        class: 'secondary',
        title: what,
        'aria-label': `Add ${name.toLowerCase()}: ${what}`,
        onclick: () => {
          // A footer stays last: other sections go above it.
          const footer = state.blocks.findIndex((b) => b.type === 'footer');
          const at = type !== 'footer' && footer >= 0 ? footer : state.blocks.length;
          state.blocks.splice(at, 0, newBlock(type));
          status.textContent = `${name} added as section ${at + 1}.`;
          redraw();
          const added = box.children[at];
          added?.scrollIntoView({ block: 'nearest' });
          added?.querySelector('.email-block-fields input, .email-block-fields textarea, .email-block-fields select, button')?.focus();
        },
      }, h('strong', { text: `+ ${name}` }), h('span', { class: 'small muted', text: what })),
    ),
  );

  const radio = (value, label) => {
    const input = h('input', { type: 'radio', name: 'editor-mode', value, checked: state.mode === value });
    input.addEventListener('change', () => input.checked && switchTo(value, input));
    return h('label', { class: 'mode-option' }, input, ` ${label}`);
  };
  const modes = h('fieldset', { class: 'editor-mode' }, h('legend', { text: 'Build this email with' }), radio('blocks', 'Blocks'), radio('html', 'HTML'));
  const blocksPart = h('div', {}, h('p', { class: 'small muted', text: 'Sections from top to bottom. Drag a section by its handle, or use the arrows, to reorder it. Texts show as typed; insert a value with {{ contact.first_name }}.' }), box, h('h3', { class: 'palette-title', text: 'Add a section' }), palette, datalist, status);

  const setMode = (mode) => {
    state.mode = mode;
    for (const r of modes.querySelectorAll('input')) r.checked = r.value === mode;
    blocksPart.hidden = mode !== 'blocks';
    onChange?.();
    changed();
  };
  // Changing mode keeps what the other mode had until the next save, and says so before anything is replaced.
  const switchTo = async (mode, opener) => {
    if (mode === state.mode) return;
    const fromHtml = mode === 'blocks' && !isNew && !Array.isArray(t.blocks) && t.html;
    const toHtml = mode === 'html' && Array.isArray(t.blocks);
    if (fromHtml || toHtml) {
      const ok = await confirmDialog({
        title: fromHtml ? 'Build this email from blocks?' : 'Edit the HTML by hand?',
        body: fromHtml
          ? ['The blocks start from a header, a text, a button and a footer. This email’s HTML stays as it is until you save; saving replaces it with the blocks.', 'Switch back to HTML before saving to keep it.']
          : ['The HTML editor starts from the blocks as last saved. Saving in HTML mode keeps that HTML and drops the blocks.'],
        confirmText: fromHtml ? 'Use blocks' : 'Edit HTML',
        action: async () => {},
        opener,
      });
      if (!ok) return setMode(state.mode);
    }
    setMode(mode);
  };

  const email = () => channel.value === 'email';
  const showForChannel = () => {
    element.hidden = !email();
  };
  channel.addEventListener('change', () => {
    showForChannel();
    onChange?.();
  });
  element.append(modes, blocksPart);
  blocksPart.hidden = state.mode !== 'blocks';
  showForChannel();
  box.replaceChildren(...state.blocks.map(item));

  const active = () => email() && state.mode === 'blocks';
  return {
    element,
    active,
    /** Whether the template form hides its own `part` (blocks make the html; the text is derived from it). */
    hides: (part) => active() && (part === 'html' || part === 'text'),
    hasFooter: () => state.blocks.some((b) => b.type === 'footer'),
    /** Puts the blocks into the request body in blocks mode. */
    apply(body) {
      if (!active()) return body;
      delete body.html;
      delete body.text;
      body.blocks = clean(state.blocks);
      return body;
    },
  };
}
