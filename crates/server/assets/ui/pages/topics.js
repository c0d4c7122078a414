// Topics: the lists people can opt out of one by one in the preference centre, with a live preview of the page
// subscribers see. A flow or campaign about a topic skips those who opted out of it.
import { api, h, pageHead, panel, field, busy, toast, workspaceSettings } from '../lib.js';

const FREQUENCIES = ['Everything you send', 'Up to twice a week', 'Once a week at most'];

/** A topic's id from its name: what flows and campaigns name it by. */
function idOf(name, taken) {
  const base = name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 36) || 'topic';
  let id = base;
  for (let n = 2; taken.has(id); n += 1) id = `${base}-${n}`;
  return id;
}

export async function render() {
  const st = await api('/settings');
  let rows = (st.topics || []).map((t) => ({ ...t }));
  const list = h('div', { class: 'topic-rows' });
  const preview = h('div', { class: 'preference-preview', 'aria-live': 'polite' });
  const errors = h('div', { 'aria-live': 'polite' });

  function drawPreview() {
    const topics = rows.filter((t) => t.name.trim() !== '');
    preview.replaceChildren(
      h('h3', { text: 'Email preferences' }),
      h('p', { text: `Choose what ${st.store?.name || 'the store'} may send you.` }),
      h('fieldset', {}, h('legend', { text: 'Channels' }),
        h('label', {}, h('input', { type: 'checkbox', checked: true, disabled: true }), ' Marketing email'),
        h('label', {}, h('input', { type: 'checkbox', disabled: true }), ' Text messages (SMS)')),
      topics.length
        ? h('fieldset', {}, h('legend', { text: 'Topics' }), topics.map((t) =>
          h('label', {}, h('input', { type: 'checkbox', checked: true, disabled: true }), ` ${t.name}`,
            t.description ? h('small', { text: ` ${t.description}` }) : null)))
        : h('p', { class: 'muted', text: 'No topics: subscribers choose channels and how often only.' }),
      h('fieldset', {}, h('legend', { text: 'How often may we email you?' }), FREQUENCIES.map((f, i) =>
        h('label', {}, h('input', { type: 'radio', name: 'preview-frequency', checked: i === 0, disabled: true }), ` ${f}`))),
    );
  }

  function draw() {
    list.replaceChildren(
      ...rows.map((t, i) => {
        const name = h('input', { type: 'text', value: t.name, maxlength: 100, required: true });
        const about = h('input', { type: 'text', value: t.description || '', maxlength: 300 });
        name.addEventListener('input', () => { t.name = name.value; drawPreview(); });
        about.addEventListener('input', () => { t.description = about.value; drawPreview(); });
        const remove = h('button', { type: 'button', class: 'secondary', text: 'Remove', 'aria-label': `Remove topic ${t.name || i + 1}` });
        remove.addEventListener('click', () => { rows.splice(i, 1); draw(); });
        return h('div', { class: 'grid three topic-row' },
          field(`Topic ${i + 1} name`, name, t.id ? `Flows and campaigns name it “${t.id}”.` : 'Named from its name when saved.'),
          field(`Topic ${i + 1} description`, about, 'Shown beside the box, optional.'),
          h('div', { class: 'field' }, remove));
      }),
    );
    drawPreview();
  }
  const add = h('button', { type: 'button', class: 'secondary', text: 'Add a topic' });
  add.addEventListener('click', () => {
    rows.push({ id: '', name: '', description: '' });
    draw();
    list.querySelector('.topic-row:last-child input')?.focus();
  });
  const save = h('button', { type: 'submit', text: 'Save topics' });
  const form = h('form', {}, list, h('p', {}, add), errors, save);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      const taken = new Set(rows.filter((t) => t.id).map((t) => t.id));
      const topics = rows.map((t) => {
        const id = t.id || idOf(t.name, taken);
        taken.add(id);
        return { id, name: t.name.trim(), description: (t.description || '').trim() };
      });
      const saved = await api('/settings', { method: 'PUT', body: { topics } });
      rows = saved.topics.map((t) => ({ ...t }));
      await workspaceSettings(true);
      draw();
      toast('Topics saved');
    }, errors);
  });
  draw();
  return h(
    'div',
    {},
    pageHead('Topics'),
    h('p', {}, 'Topics are the lists subscribers can leave one by one on the preference page linked from every email. A flow or a campaign about a topic skips the people who left it; a chosen frequency holds back extra marketing email.'),
    h('div', { class: 'grid two' }, panel('Your topics', form), panel('What subscribers see', preview)),
  );
}
