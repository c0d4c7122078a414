// The fields of a signup form: each saved to a profile field (the common ones by name, or one of the store's own),
// with its type, the label visitors read and whether it is required; added, removed and moved with the keyboard.
import { h, field, select } from '../lib.js';

/** Profile fields offered by name; '' is "another profile field" typed by the marketer. */
const TRAITS = [
  ['email', 'Email address'],
  ['phone', 'Phone number'],
  ['first_name', 'First name'],
  ['last_name', 'Last name'],
  ['birthday', 'Birthday'],
  ['', 'Another profile field…'],
];
const TYPES = [
  ['email', 'Email address'],
  ['phone', 'Phone number'],
  ['text', 'Short text'],
  ['textarea', 'Long text'],
  ['checkbox', 'Checkbox (yes or no)'],
];
/** The type and label a common profile field starts with. */
const DEFAULTS = {
  email: ['email', 'Email'],
  phone: ['phone', 'Phone number'],
  first_name: ['text', 'First name'],
  last_name: ['text', 'Last name'],
  birthday: ['text', 'Birthday'],
};
/** The types each choice may take: email and phone answers always go to the profile's email and phone. */
function typesFor(trait) {
  if (trait === 'email' || trait === 'phone') return TYPES.filter(([t]) => t === trait);
  if (trait) return TYPES.filter(([t]) => t === 'text' || t === 'textarea');
  return TYPES;
}
const KNOWN = new Set(TRAITS.map(([t]) => t).filter(Boolean));

/**
 * The fields editor: `node` to place in the form, `value()` the fields as the API takes them, `onChange(fn)` called
 * after a field is added, removed or moved. Controls register their API paths (`fields[1].name`) with `errors`.
 */
export function fieldsEditor(initial, errors) {
  const rows = initial.map((f) => ({
    trait: KNOWN.has(f.name) && typesFor(f.name).some(([t]) => t === f.type) ? f.name : '',
    custom: KNOWN.has(f.name) && typesFor(f.name).some(([t]) => t === f.type) ? '' : f.name,
    type: f.type || 'text',
    label: f.label ?? '',
    required: Boolean(f.required),
  }));
  let changed = () => {};
  const list = h('ol', { class: 'form-fields' });
  const status = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  const add = h('button', { type: 'button', class: 'secondary', text: 'Add a field' });
  const node = h(
    'fieldset',
    {},
    h('legend', { text: 'Fields' }),
    h('p', { class: 'small muted', text: 'Each answer is saved on the person’s profile. Email and phone answers always go to their email address and phone number.' }),
    list,
    h('p', {}, add),
    status,
  );
  errors.add('fields', add, node);
  const nameOf = (r) => (r.trait || r.custom.trim());
  const title = (r, i) => `Field ${i + 1}: ${r.label.trim() || nameOf(r) || 'new'}`;

  function row(r, i) {
    const path = (k) => `fields[${i}].${k}`;
    const legend = h('legend', { text: title(r, i) });
    const trait = select(TRAITS, r.trait, { name: `field_${i}_trait` });
    const custom = h('input', { type: 'text', name: `field_${i}_custom`, value: r.custom, autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. skin_type' });
    const type = select(typesFor(r.trait), r.type, { name: `field_${i}_type`, disabled: typesFor(r.trait).length === 1 });
    const label = h('input', { type: 'text', name: `field_${i}_label`, value: r.label, autocomplete: 'off' });
    const required = h('input', { type: 'checkbox', name: `field_${i}_required`, checked: r.required });
    const customWrap = field('Profile field name', custom, 'Lower-case letters, digits and _.');
    const traitWrap = field('Saves to', trait);
    customWrap.hidden = Boolean(r.trait);
    errors.add(path('name'), r.trait ? trait : custom, r.trait ? traitWrap : customWrap);
    const typeWrap = field('Type', type);
    errors.add(path('type'), type, typeWrap);
    const labelWrap = field('Label', label, 'What visitors read above the box.');
    errors.add(path('label'), label, labelWrap);
    const what = () => r.label.trim() || nameOf(r) || `field ${i + 1}`;
    const up = h('button', { type: 'button', class: 'secondary', text: 'Move up', disabled: i === 0 });
    const down = h('button', { type: 'button', class: 'secondary', text: 'Move down', disabled: i === rows.length - 1 });
    const remove = h('button', { type: 'button', class: 'danger', text: 'Remove', disabled: rows.length === 1 });
    /** The legend and the buttons' names follow the label as it is typed. */
    const named = () => {
      legend.textContent = title(r, i);
      up.setAttribute('aria-label', `Move ${what()} up`);
      down.setAttribute('aria-label', `Move ${what()} down`);
      remove.setAttribute('aria-label', `Remove ${what()}`);
    };
    named();

    trait.addEventListener('change', () => {
      const before = DEFAULTS[r.trait]?.[1];
      r.trait = trait.value;
      const [t, l] = DEFAULTS[r.trait] || [r.type === 'email' || r.type === 'phone' ? 'text' : r.type, ''];
      r.type = t;
      if (l && (!r.label.trim() || r.label === before)) r.label = l;
      draw(trait, `field_${i}_trait`);
    });
    custom.addEventListener('input', () => {
      r.custom = custom.value;
      named();
    });
    type.addEventListener('change', () => {
      r.type = type.value;
    });
    label.addEventListener('input', () => {
      r.label = label.value;
      named();
    });
    required.addEventListener('change', () => {
      r.required = required.checked;
    });
    up.addEventListener('click', () => move(i, -1));
    down.addEventListener('click', () => move(i, 1));
    remove.addEventListener('click', () => {
      const gone = what();
      rows.splice(i, 1);
      draw();
      add.focus();
      status.textContent = `Removed ${gone}.`;
    });
    return h(
      'li',
      { 'data-field': nameOf(r) || 'new' },
      h(
        'fieldset',
        {},
        legend,
        h('div', { class: 'grid two' }, traitWrap, customWrap, typeWrap, labelWrap),
        h('div', { class: 'actions' }, h('label', { class: 'check' }, required, 'Required'), up, down, remove),
      ),
    );
  }

  function move(i, by) {
    const [r] = rows.splice(i, 1);
    rows.splice(i + by, 0, r);
    const what = r.label.trim() || nameOf(r);
    draw();
    const buttons = list.children[i + by].querySelectorAll('.actions button');
    const again = by < 0 ? buttons[0] : buttons[1];
    (again.disabled ? (by < 0 ? buttons[1] : buttons[0]) : again).focus();
    status.textContent = `Moved ${what} to position ${i + by + 1} of ${rows.length}.`;
  }

  /** Draws the rows again; `focusName`: the control to give the focus back to. */
  function draw(_, focusName) {
    errors.drop('fields[');
    list.replaceChildren(...rows.map(row));
    if (focusName) list.querySelector(`[name="${focusName}"]`)?.focus();
    changed();
  }

  add.addEventListener('click', () => {
    const used = new Set(rows.map(nameOf));
    const trait = ['email', 'first_name', 'last_name', 'phone', 'birthday'].find((t) => !used.has(t)) || '';
    const [type, label] = DEFAULTS[trait] || ['text', ''];
    rows.push({ trait, custom: '', type, label, required: false });
    draw();
    list.lastElementChild.querySelector('select')?.focus();
    status.textContent = `Added field ${rows.length}.`;
  });
  draw();
  return {
    node,
    value: () => rows.map((r) => ({ name: nameOf(r), type: r.type, label: r.label.trim() || null, required: r.required })),
    onChange(fn) {
      changed = fn;
    },
  };
}
