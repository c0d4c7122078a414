// Landing pages: the list, and an editor of ordered blocks (add, remove, reorder) with a live preview of the
// draft (rendered by the server, shown in a sandboxed frame), the publish switch and the page's report in words.
import { api, allItems, h, pageHead, panel, table, badge, dateTime, field, select, busy, toast, errorBox, debounce, nextId, frameWriter, num, money, plural, pct, safeUrl } from '../lib.js';

const BLOCKS = [
  ['hero', 'Hero: heading, text, image and button'],
  ['text', 'Text'],
  ['products', 'Products'],
  ['form', 'Signup form'],
  ['coupon', 'Coupon'],
];
const BLOCK_NAMES = { hero: 'Hero', text: 'Text', products: 'Products', form: 'Signup form', coupon: 'Coupon' };
const SOURCES = [
  ['category', 'Products of a category'],
  ['segment', 'Chosen by the visitor’s segment'],
  ['recommended', 'Recommended for the visitor'],
];
const FIELD_NAMES = {
  name: 'name', title: 'title', id: 'address', heading: 'heading', text: 'text', image_url: 'image address',
  image_alt: 'image description', button_label: 'button label', button_url: 'button address', category: 'category',
  count: 'number of products', segments: 'segment rules', segment: 'segment', form: 'form', pool: 'coupon pool',
  code: 'code', source: 'source', type: 'type', blocks: 'blocks',
};

/** "blocks[2].segments[0].category" → "Block 3, rule 1: category". */
function fieldInWords(path) {
  if (!path) return '';
  const m = path.match(/^blocks\[(\d+)\](?:\.segments\[(\d+)\])?(?:\.(\w+))?$/);
  if (!m) return FIELD_NAMES[path] || path;
  const parts = [`Block ${Number(m[1]) + 1}`];
  if (m[2] !== undefined) parts.push(`rule ${Number(m[2]) + 1}`);
  return parts.join(', ') + (m[3] ? `: ${FIELD_NAMES[m[3]] || m[3]}` : '');
}

function errorInWords(e) {
  const where = fieldInWords(e.field);
  return errorBox(where ? `${where}: ${e.message}` : e.message);
}

function newBlock(type) {
  switch (type) {
    case 'hero':
      return { type, heading: 'A headline visitors read first', text: '' };
    case 'text':
      return { type, heading: '', text: 'Write a paragraph here.\n\nA blank line starts a new one.' };
    case 'products':
      return { type, heading: 'Products', source: 'recommended', category: '', count: 4, segments: [] };
    case 'form':
      return { type, heading: '', form: '' };
    default:
      return { type: 'coupon', heading: 'Your discount', text: '', pool: '', code: '', button_label: '' };
  }
}

export async function list() {
  const items = (await api('/landing-pages')).items || [];
  return h(
    'div',
    {},
    pageHead('Landing pages', h('a', { href: '/ui/landing-pages/new', class: 'button', text: 'New landing page' })),
    panel(
      null,
      h('p', { class: 'muted', text: 'Pages Kairos hosts for your campaigns: built from blocks, with visits, signups and orders reported.' }),
      table(
        [
          { label: 'Page', cell: (p) => h('a', { href: `/ui/landing-pages/${encodeURIComponent(p.id)}`, text: p.name }) },
          { label: 'Status', cell: (p) => (p.published ? badge('published', 'good') : badge('not published', 'warn')) },
          { label: 'Address', cell: (p) => (p.published ? h('a', { href: safeUrl(p.url), text: p.url, target: '_blank', rel: 'noopener' }) : h('span', { class: 'muted', text: p.url })) },
          { label: 'Updated', cell: (p) => dateTime(p.updated_at) },
        ],
        items,
        { empty: 'No landing pages yet.' },
      ),
    ),
  );
}

/** The workspace's forms, coupon pools, segments and catalog categories, for the blocks' choices. */
async function choices() {
  const [forms, pools, segments, products] = await Promise.all([
    api('/forms').catch(() => ({ items: [] })),
    api('/coupons').catch(() => ({ items: [] })),
    api('/segments').catch(() => ({ items: [] })),
    allItems('/products', {}, 1000).catch(() => ({ items: [] })),
  ]);
  const categories = [...new Set((products.items || []).flatMap((p) => p.categories || []))].sort();
  return { forms: forms.items || [], pools: pools.items || [], segments: segments.items || [], categories };
}

/** A labelled input bound to `obj[key]`. */
function bound(label, obj, key, { type = 'text', textarea = false, hint, required, attrs = {}, onChange } = {}) {
  const control = textarea
    ? h('textarea', { name: key, value: obj[key] ?? '', rows: 4, required, ...attrs })
    : h('input', { type, name: key, value: obj[key] ?? '', required, ...attrs });
  control.addEventListener('input', () => {
    obj[key] = type === 'number' ? Number(control.value) : control.value;
    onChange?.();
  });
  return field(label, control, hint);
}

function boundSelect(label, obj, key, options, onChange, hint) {
  const control = select(options, obj[key] ?? '', { name: key });
  control.addEventListener('change', () => {
    obj[key] = control.value;
    onChange?.();
  });
  return field(label, control, hint);
}

/** The fields of one block. `changed` redraws the preview; `redraw` redraws the block list. */
function blockFields(b, ctx) {
  const { changed, redraw, choices: c, categoriesId } = ctx;
  const category = (label, obj) => bound(label, obj, 'category', { attrs: { list: categoriesId, autocomplete: 'off' }, onChange: changed });
  switch (b.type) {
    case 'hero':
      return [
        bound('Heading', b, 'heading', { required: true, onChange: changed }),
        bound('Text', b, 'text', { textarea: true, onChange: changed }),
        h('div', { class: 'row' }, bound('Image address', b, 'image_url', { type: 'url', onChange: changed }), bound('Image description', b, 'image_alt', { onChange: changed, hint: 'For people who cannot see it; empty when it is decoration.' })),
        h('div', { class: 'row' }, bound('Button label', b, 'button_label', { onChange: changed }), bound('Button address', b, 'button_url', { type: 'url', onChange: changed })),
      ];
    case 'text':
      return [bound('Heading (optional)', b, 'heading', { onChange: changed }), bound('Text', b, 'text', { textarea: true, onChange: changed, hint: 'Plain text; a blank line starts a new paragraph.' })];
    case 'products': {
      const rules = (b.segments ||= []);
      const ruleRows = rules.map((r, j) =>
        h(
          'div',
          { class: 'row' },
          boundSelect(`Rule ${j + 1}: visitors in segment`, r, 'segment', [['', 'Choose a segment'], ...c.segments.map((s) => [s.id, s.name])], changed),
          category(`Rule ${j + 1}: see the category`, r),
          h('button', { type: 'button', class: 'secondary', text: 'Remove rule', 'aria-label': `Remove rule ${j + 1}`, onclick: () => { rules.splice(j, 1); redraw(); } }),
        ),
      );
      const source = b.source || 'category';
      return [
        bound('Heading (optional)', b, 'heading', { onChange: changed }),
        h(
          'div',
          { class: 'row' },
          boundSelect('Products shown', b, 'source', SOURCES, redraw),
          bound('How many', b, 'count', { type: 'number', attrs: { min: 1, max: 12, step: 1 }, onChange: changed }),
        ),
        source === 'recommended'
          ? h('p', { class: 'small muted', text: 'What the visitor looked at and bought decides; someone new sees what is trending. Only products in stock are shown.' })
          : category(source === 'segment' ? 'Category for everyone else' : 'Category', b),
        source === 'segment'
          ? h('div', {}, ruleRows, h('button', { type: 'button', class: 'secondary', text: 'Add a segment rule', onclick: () => { rules.push({ segment: '', category: '' }); redraw(); } }))
          : null,
      ];
    }
    case 'form':
      return [
        bound('Heading (optional)', b, 'heading', { onChange: changed, hint: 'The form’s name when empty.' }),
        c.forms.length
          ? boundSelect('Form', b, 'form', [['', 'Choose a form'], ...c.forms.map((f) => [f.id, f.name])], changed, 'Signups through it count for this page.')
          : h('p', { class: 'notice', text: 'This workspace has no signup forms yet: create one first.' }),
      ];
    default: {
      const kind = b.code ? 'code' : 'pool';
      const kindSelect = select([['pool', 'A code from a coupon pool, after the visitor gives an email'], ['code', 'One code for everyone']], kind, { name: 'coupon-kind' });
      kindSelect.addEventListener('change', () => {
        if (kindSelect.value === 'code') {
          b.pool = '';
          b.code = b.code || 'WELCOME10';
        } else b.code = '';
        redraw();
      });
      return [
        bound('Heading (optional)', b, 'heading', { onChange: changed }),
        bound('Text (optional)', b, 'text', { textarea: true, onChange: changed }),
        field('Code given', kindSelect),
        kind === 'code'
          ? bound('Code', b, 'code', { onChange: changed, hint: 'Letters, digits, - and _.' })
          : boundSelect('Coupon pool', b, 'pool', [['', 'Choose a pool'], ...c.pools.map((p) => [p.id, p.name || p.id])], changed),
        bound('Button label (optional)', b, 'button_label', { onChange: changed }),
      ];
    }
  }
}

/** The body the API takes, from the editor's state (empty texts left out). */
function bodyOf(page) {
  const clean = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== '' && v !== null && v !== undefined && !(Array.isArray(v) && !v.length)));
  return {
    id: page.id || undefined,
    name: page.name,
    title: page.title || undefined,
    published: Boolean(page.published),
    blocks: page.blocks.map((b) => {
      const out = clean(b);
      if (b.type === 'products' && b.source === 'segment') out.segments = (b.segments || []).map(clean);
      return out;
    }),
  };
}

function reportInWords(r) {
  const days = Math.round((Date.parse(r.to) - Date.parse(r.from)) / 86_400_000);
  const lines = [
    `In the last ${plural(days, 'day')}: ${plural(r.visits, 'visit')} from ${plural(r.unique_visitors, 'person')}.`.replace('persons', 'people'),
    r.signups ? `${r.signups === 1 ? '1 person' : `${num(r.signups)} people`} signed up (${pct(r.signup_rate)} of visitors).` : 'Nobody signed up yet.',
    r.orders
      ? `${plural(r.orders, 'order')} worth ${money(r.revenue, r.currency)} came within ${r.attribution_window.replace(/d$/, ' days')} of a visit.`
      : `No order came within ${r.attribution_window.replace(/d$/, ' days')} of a visit yet.`,
  ];
  const sources = (r.sources || []).map((s) => `${s.source ?? 'no campaign'} (${num(s.visits)})`);
  if (sources.length) lines.push(`Visits by source: ${sources.join(', ')}.`);
  return h('div', { 'data-testid': 'landing-report' }, lines.map((t) => h('p', { text: t })));
}

export async function edit(ctx) {
  const isNew = !ctx.params.length;
  const stored = isNew ? null : await api(`/landing-pages/${encodeURIComponent(ctx.params[0])}`);
  const c = await choices();
  const page = stored
    ? { ...stored, blocks: stored.blocks.map((b) => ({ ...b, segments: (b.segments || []).map((r) => ({ ...r })) })) }
    : { id: '', name: '', title: '', published: false, blocks: [newBlock('hero'), newBlock('products')] };
  for (const b of page.blocks) for (const k of Object.keys(b)) if (b[k] === null) b[k] = '';

  const categoriesId = nextId('categories');
  const datalist = h('datalist', { id: categoriesId }, c.categories.map((x) => h('option', { value: x })));
  const errors = h('div', { 'aria-live': 'polite' });
  const frame = h('iframe', { sandbox: '', title: 'Preview of the page', referrerpolicy: 'no-referrer' });
  frame.style.height = '70vh';
  const showInFrame = frameWriter(frame);
  const previewErrors = h('div', { 'aria-live': 'polite' });
  const width = select([['100%', 'Full width'], ['390px', 'Phone (390 px)']], '100%', { name: 'preview-width' });
  width.addEventListener('change', () => { frame.style.width = width.value; });

  let seq = 0;
  const preview = async () => {
    const mine = ++seq;
    try {
      const r = await api('/landing-pages/preview', { method: 'POST', body: bodyOf(page) });
      if (mine !== seq) return;
      previewErrors.replaceChildren();
      showInFrame(r.html);
    } catch (e) {
      if (mine !== seq) return;
      previewErrors.replaceChildren(errorInWords(e));
    }
  };
  const changed = debounce(preview, 350);

  const blocksBox = h('div', { class: 'blocks' });
  const redraw = (focus) => {
    blocksBox.replaceChildren(
      ...page.blocks.map((b, i) => {
        const n = i + 1;
        const move = (to, label) =>
          h('button', {
            type: 'button',
            class: 'secondary',
            text: label,
            'aria-label': `${label}: block ${n}`,
            disabled: to < 0 || to >= page.blocks.length,
            dataset: { action: label, block: String(i) },
            onclick: () => {
              page.blocks.splice(to, 0, page.blocks.splice(i, 1)[0]);
              redraw({ block: to, action: label });
            },
          });
        return h(
          'fieldset',
          { class: 'block', dataset: { type: b.type } },
          h('legend', { text: `Block ${n}: ${BLOCK_NAMES[b.type]}` }),
          blockFields(b, { changed, redraw: () => redraw(), choices: c, categoriesId }),
          h(
            'div',
            { class: 'row' },
            move(i - 1, 'Move up'),
            move(i + 1, 'Move down'),
            h('button', {
              type: 'button',
              class: 'danger',
              text: 'Remove',
              'aria-label': `Remove block ${n}`,
              disabled: page.blocks.length === 1,
              onclick: () => {
                page.blocks.splice(i, 1);
                redraw();
              },
            }),
          ),
        );
      }),
    );
    if (focus) {
      const again = blocksBox.querySelector(`button[data-block="${focus.block}"][data-action="${focus.action}"]`);
      (again && !again.disabled ? again : blocksBox.querySelectorAll('fieldset')[focus.block]?.querySelector('input, textarea, select'))?.focus();
    }
    changed();
  };

  const addType = select(BLOCKS, 'text', { name: 'add-block' });
  const add = h('button', {
    type: 'button',
    class: 'secondary',
    text: 'Add block',
    onclick: () => {
      page.blocks.push(newBlock(addType.value));
      redraw();
      blocksBox.lastElementChild?.querySelector('input, textarea, select')?.focus();
    },
  });

  const published = h('input', { type: 'checkbox', name: 'published', checked: Boolean(page.published) });
  published.addEventListener('change', () => { page.published = published.checked; });
  const save = h('button', { type: 'submit', text: isNew ? 'Create page' : 'Save' });
  const form = h(
    'form',
    { novalidate: true },
    h('div', { class: 'row' }, bound('Name', page, 'name', { required: true, hint: 'For you; visitors see the title.' }), bound('Title (optional)', page, 'title', { onChange: changed, hint: 'The browser tab’s title; the name when empty.' })),
    isNew ? bound('Address (optional)', page, 'id', { attrs: { pattern: '[a-z0-9][a-z0-9_-]{0,63}', autocomplete: 'off' }, hint: 'The end of the page’s address: lower-case letters, digits, - and _ (spring-sale).' }) : null,
    h('div', { class: 'field' }, h('label', {}, published, ' Published: visitors can open the page')),
    h('h2', { text: 'Blocks' }),
    blocksBox,
    h('div', { class: 'row' }, field('New block', addType), add),
    errors,
    h('div', { class: 'row' }, save),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    errors.replaceChildren();
    busy(save, async () => {
      try {
        const saved = await api('/landing-pages', { method: 'POST', body: bodyOf(page) });
        toast(saved.published ? 'Saved and published' : 'Saved (not published)');
        if (isNew) ctx.navigate(`/ui/landing-pages/${encodeURIComponent(saved.id)}`, { replace: true });
        else ctx.navigate(location.pathname, { replace: true });
      } catch (err) {
        errors.replaceChildren(errorInWords(err));
      }
    });
  });

  const side = [panel('Preview', h('div', { class: 'row' }, field('Width', width)), previewErrors, h('div', { class: 'message-view' }, frame))];
  if (stored) {
    const report = await api(`/reports/landing-pages/${encodeURIComponent(stored.id)}`).catch((e) => ({ error: e }));
    side.unshift(panel('How the page did', report.error ? errorBox(report.error) : reportInWords(report)));
  }
  const actions = [h('a', { href: '/ui/landing-pages', class: 'button secondary', text: 'All landing pages' })];
  if (stored?.published) actions.unshift(h('a', { href: safeUrl(stored.url), class: 'button secondary', text: 'Open the page', target: '_blank', rel: 'noopener' }));
  if (stored) {
    actions.push(
      h('button', {
        type: 'button',
        class: 'danger',
        text: 'Delete',
        onclick: (e) =>
          busy(e.currentTarget, async () => {
            if (!window.confirm(`Delete the landing page “${stored.name}”? Its address stops working.`)) return;
            await api(`/landing-pages/${encodeURIComponent(stored.id)}`, { method: 'DELETE' });
            toast('Landing page deleted');
            ctx.navigate('/ui/landing-pages');
          }),
      }),
    );
  }
  redraw();
  return h(
    'div',
    {},
    pageHead(stored ? stored.name : 'New landing page', stored ? (stored.published ? badge('published', 'good') : badge('not published', 'warn')) : null, ...actions),
    datalist,
    h('div', { class: 'grid two' }, panel('Page', form), h('div', {}, side)),
  );
}
