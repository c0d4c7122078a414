// Quizzes: the list; an editor for questions, their answers and where each answer leads, the email step and the
// result, with a live preview of the hosted quiz as a visitor sees it; and the report (completion and where people
// leave) in words.
import { api, apiOptional, h, pageHead, panel, table, field, select, busy, toast, notice, debounce, nextId, frameWriter, num, pct, plural } from '../lib.js';

const END = 'end';

/** A question id no other question has. */
function freshId(draft) {
  let n = draft.questions.length + 1;
  while (draft.questions.some((q) => q.id === `q${n}`)) n += 1;
  return `q${n}`;
}

/** "Road riding!" → "road_riding": what a new answer stores unless the marketer writes another value. */
function slug(s) {
  return String(s).toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 100);
}

function blankQuestion(draft) {
  return { id: freshId(draft), text: '', trait: '', options: [{ label: '', value: '' }, { label: '', value: '' }] };
}

function starter() {
  return {
    name: 'Find your perfect match',
    intro: 'Answer a few quick questions and we will pick products for you.',
    questions: [
      {
        id: 'q1',
        text: 'What are you shopping for?',
        trait: 'shopping_for',
        options: [
          { label: 'Something for me', value: 'something_for_me', categories: [] },
          { label: 'A gift', value: 'a_gift', categories: [] },
        ],
      },
    ],
    email: null,
    result: { title: 'Our picks for you', products_max: 4 },
  };
}

const commaList = (s) => String(s || '').split(',').map((x) => x.trim()).filter(Boolean);

export async function list() {
  const items = (await api('/quizzes')).items || [];
  return h(
    'div',
    {},
    pageHead('Quizzes', h('a', { href: '/ui/quizzes/new', class: 'button', text: 'New quiz' })),
    notice('A quiz asks visitors a few questions, stores each answer on their profile, and ends with products from your catalog that are in stock.'),
    panel(
      null,
      table(
        [
          { label: 'Quiz', cell: (q) => h('a', { href: `/ui/quizzes/${encodeURIComponent(q.id)}`, text: q.name }) },
          { label: 'Questions', num: true, cell: (q) => num(q.questions.length) },
          { label: 'Email step', cell: (q) => (q.email ? (q.email.required ? 'Required' : 'Optional') : 'None') },
          { label: 'Hosted page', cell: (q) => h('a', { href: q.url, target: '_blank', rel: 'noopener', text: 'Open' }) },
        ],
        items,
        { empty: 'No quizzes yet.' },
      ),
    ),
  );
}

/** Where each answer leads, in words. */
function nextChoices(draft, qi) {
  const out = [['', qi + 1 < draft.questions.length ? 'The next question' : 'The results']];
  draft.questions.forEach((q, i) => {
    if (i !== qi) out.push([q.id, `Question ${i + 1}: ${q.text || '(no text yet)'}`]);
  });
  out.push([END, 'The results (end the quiz)']);
  return out;
}

/** A text input bound to `obj[key]`, tagged with its API path (to point at errors). */
function bound(obj, key, path, onChange, attrs = {}) {
  const tag = attrs.multiline ? 'textarea' : 'input';
  const el = h(tag, { type: attrs.multiline ? null : attrs.type || 'text', value: obj[key] ?? '', 'data-path': path, ...attrs.extra });
  el.addEventListener('input', () => {
    obj[key] = attrs.type === 'number' ? Number(el.value) : el.value;
    onChange();
  });
  return el;
}

function answerRow(draft, q, qi, c, ci, ctx) {
  const at = `questions[${qi}].options[${ci}]`;
  const label = h('input', { type: 'text', value: c.label || '', 'data-path': `${at}.label` });
  const value = h('input', { type: 'text', value: c.value || '', 'data-path': `${at}.value` });
  label.addEventListener('input', () => {
    // The stored value follows the label until the marketer writes one of their own.
    if (!c.value || c.value === slug(c.label || '')) {
      c.value = slug(label.value);
      value.value = c.value;
    }
    c.label = label.value;
    ctx.changed();
  });
  value.addEventListener('input', () => {
    c.value = value.value;
    ctx.changed();
  });
  const next = select(nextChoices(draft, qi), c.next || '', { 'data-path': `${at}.next` });
  next.addEventListener('change', () => {
    c.next = next.value || null;
    ctx.changed();
  });
  const cats = h('input', { type: 'text', value: (c.categories || []).join(', '), 'data-path': `${at}.categories` });
  cats.addEventListener('input', () => {
    c.categories = commaList(cats.value);
    ctx.changed();
  });
  const prods = h('input', { type: 'text', value: (c.products || []).join(', '), 'data-path': `${at}.products` });
  prods.addEventListener('input', () => {
    c.products = commaList(prods.value);
    ctx.changed();
  });
  const remove = h('button', { type: 'button', class: 'secondary', text: 'Remove answer', disabled: q.options.length <= 2 });
  remove.addEventListener('click', () => {
    q.options.splice(ci, 1);
    ctx.rebuild();
  });
  return h(
    'fieldset',
    {},
    h('legend', { text: `Answer ${ci + 1}` }),
    h(
      'div',
      { class: 'builder' },
      field('Answer shown', label),
      field('Stored as', value, 'The trait’s value, used in segments and emails.'),
      field('Then show', next),
      field('Recommend categories', cats, 'Comma-separated catalog categories (product types and tags count).'),
      field('Recommend products', prods, 'Comma-separated product ids, shown first.'),
    ),
    h('div', { class: 'actions' }, remove),
  );
}

function questionBox(draft, q, qi, ctx) {
  const at = `questions[${qi}]`;
  const move = (d) => {
    const [x] = draft.questions.splice(qi, 1);
    draft.questions.splice(qi + d, 0, x);
    ctx.rebuild();
  };
  const up = h('button', { type: 'button', class: 'secondary', text: 'Move up', disabled: qi === 0, onclick: () => move(-1) });
  const down = h('button', { type: 'button', class: 'secondary', text: 'Move down', disabled: qi === draft.questions.length - 1, onclick: () => move(1) });
  const remove = h('button', {
    type: 'button',
    class: 'danger',
    text: 'Remove question',
    disabled: draft.questions.length <= 1,
    onclick: () => {
      draft.questions.splice(qi, 1);
      for (const other of draft.questions) for (const c of other.options) if (c.next === q.id) c.next = null;
      ctx.rebuild();
    },
  });
  const addAnswer = h('button', {
    type: 'button',
    class: 'secondary',
    text: 'Add an answer',
    disabled: q.options.length >= 12,
    onclick: () => {
      q.options.push({ label: '', value: '' });
      ctx.rebuild();
    },
  });
  return h(
    'fieldset',
    { 'data-path': at },
    h('legend', { text: `Question ${qi + 1}` }),
    field('Question', bound(q, 'text', `${at}.text`, ctx.changed)),
    field('Save the answer as trait', bound(q, 'trait', `${at}.trait`, ctx.changed, { extra: { placeholder: 'skin_type' } }), 'Lower-case letters, digits and _, like riding_style: the answer lands on the visitor’s profile under this name.'),
    q.options.map((c, ci) => answerRow(draft, q, qi, c, ci, ctx)),
    h('div', { class: 'actions' }, addAnswer, up, down, remove),
  );
}

function emailBox(draft, ctx) {
  const on = h('input', { type: 'checkbox', checked: Boolean(draft.email), 'data-path': 'email' });
  const body = h('div', { hidden: !draft.email });
  const e = draft.email || { title: 'Where should we send your results?', required: false, consent: null };
  const consent = h('textarea', { value: e.consent?.text || '', 'data-path': 'email.consent.text' });
  const required = h('input', { type: 'checkbox', checked: Boolean(e.required), 'data-path': 'email.required' });
  consent.addEventListener('input', () => {
    e.consent = consent.value.trim() ? { text: consent.value } : null;
    ctx.changed();
  });
  required.addEventListener('change', () => {
    e.required = required.checked;
    ctx.changed();
  });
  on.addEventListener('change', () => {
    draft.email = on.checked ? e : null;
    body.hidden = !on.checked;
    ctx.stepsChanged();
  });
  body.append(
    field('Title', bound(e, 'title', 'email.title', ctx.changed)),
    field('Text (optional)', bound(e, 'text', 'email.text', ctx.changed)),
    h('label', { class: 'check' }, required, 'Visitors must give an email to see their results'),
    field('Consent text beside the box (optional)', consent, 'The exact words are kept as evidence when the box is ticked. Without it the address is not subscribed.'),
  );
  return h('fieldset', {}, h('legend', { text: 'Email step' }), h('label', { class: 'check' }, on, 'Ask for an email before the results'), body);
}

function resultBox(draft, ctx) {
  draft.result = draft.result || { title: 'Our picks for you', products_max: 4 };
  const r = draft.result;
  return h(
    'fieldset',
    {},
    h('legend', { text: 'Results' }),
    field('Title', bound(r, 'title', 'result.title', ctx.changed)),
    field('Text (optional)', bound(r, 'text', 'result.text', ctx.changed)),
    field('Products shown', bound(r, 'products_max', 'result.products_max', ctx.changed, { type: 'number', extra: { min: 1, max: 12 } }), 'Only products in stock are shown; when none match, your best sellers.'),
  );
}

/** The report in words: who started, who finished, and where people left. */
function reportView(quiz, report) {
  if (!report) return h('p', { class: 'muted', text: 'No report yet.' });
  if (!report.started) return h('p', { class: 'muted', text: 'No one has taken this quiz yet.' });
  const lines = [
    h('p', { text: `${plural(report.started, 'visitor')} started the quiz and ${num(report.completed)} finished it (${pct(report.completion_rate ?? 0)}).` }),
  ];
  const items = report.questions.map((q, i) => {
    const given = q.answers.filter((a) => a.count > 0).map((a) => `“${a.label}” ${num(a.count)}`);
    const most = given.length ? ` Answers: ${given.join(', ')}.` : '';
    const left = q.dropped ? `${num(q.dropped)} left here (${pct(q.drop_off_rate ?? 0)}).` : 'No one left here.';
    return h('li', { 'data-question': q.id, text: `Question ${i + 1}, “${q.text}”: ${num(q.reached)} reached it and ${num(q.answered)} answered. ${left}${most}` });
  });
  if (report.email_step) {
    const e = report.email_step;
    items.push(h('li', { 'data-question': 'email', text: `The email step: ${num(e.reached)} reached it, ${num(e.emails)} gave an email, ${num(e.declined)} went on without one, ${num(e.dropped)} left there.` }));
  }
  lines.push(h('ol', { class: 'stack' }, items));
  return h('div', { 'aria-live': 'polite' }, lines);
}

/** A confirmation before deleting (a modal dialog; Escape cancels). */
function confirmDelete(quiz, opener, onDeleted) {
  const titleId = nextId('dlg');
  const yes = h('button', { type: 'submit', class: 'danger-solid', text: 'Delete quiz' });
  const no = h('button', { type: 'button', class: 'secondary', text: 'Cancel' });
  const errors = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    {},
    h('h2', { id: titleId, text: `Delete ${quiz.name}?` }),
    h('p', { text: 'Its page stops working at once. Answers already given stay on the visitors’ profiles.' }),
    errors,
    h('div', { class: 'actions' }, yes, no),
  );
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
  no.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener.isConnected) opener.focus();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(yes, async () => {
      await api(`/quizzes/${encodeURIComponent(quiz.id)}`, { method: 'DELETE' });
      dialog.close();
      onDeleted();
    }, errors);
  });
  document.body.append(dialog);
  dialog.showModal();
  no.focus();
}

/** The editor with its preview; `saved` is the stored quiz (null for a new one). */
function editor(ctx, draft, saved) {
  const errors = h('div', { 'aria-live': 'polite' });
  const warnings = h('div', { 'aria-live': 'polite' });
  const questions = h('div');
  const emailSlot = h('div');
  const stepPick = h('select', { id: nextId('step') });
  const frame = h('iframe', { sandbox: '', title: 'Preview of the hosted quiz', referrerpolicy: 'no-referrer', style: 'height:560px' });
  const previewNote = h('div', { 'aria-live': 'polite' });
  const showInFrame = frameWriter(frame);
  let seq = 0;
  const preview = async () => {
    const mine = ++seq;
    try {
      const r = await api('/quizzes/preview', { method: 'POST', body: { quiz: draft, step: stepPick.value || 'intro' } });
      if (mine !== seq) return;
      previewNote.replaceChildren();
      showInFrame(r.html);
    } catch (e) {
      if (mine !== seq) return;
      previewNote.replaceChildren(notice(`The preview shows once the quiz is complete: ${e.message}`));
    }
  };
  const later = debounce(preview, 350);
  const steps = () => {
    const keep = stepPick.value;
    const opts = [['intro', 'Start page'], ...draft.questions.map((q, i) => [q.id, `Question ${i + 1}`])];
    if (draft.email) opts.push(['email', 'Email step']);
    opts.push(['result', 'Results']);
    stepPick.replaceChildren(...opts.map(([v, l]) => h('option', { value: v, selected: v === keep }, l)));
  };
  const c = {
    changed: () => later(),
    stepsChanged: () => {
      steps();
      later();
    },
    rebuild: () => {
      questions.replaceChildren(...draft.questions.map((q, qi) => questionBox(draft, q, qi, c)));
      emailSlot.replaceChildren(emailBox(draft, c));
      steps();
      later();
    },
  };
  stepPick.addEventListener('change', preview);
  const add = h('button', {
    type: 'button',
    class: 'secondary',
    text: 'Add a question',
    onclick: () => {
      draft.questions.push(blankQuestion(draft));
      c.rebuild();
      questions.lastElementChild?.querySelector('input')?.focus();
    },
  });
  const save = h('button', { type: 'submit', text: saved ? 'Save' : 'Create quiz' });
  const form = h(
    'form',
    { novalidate: true },
    field('Name', bound(draft, 'name', 'name', c.changed)),
    field('Intro (optional)', bound(draft, 'intro', 'intro', c.changed, { multiline: true })),
    questions,
    h('p', {}, add),
    emailSlot,
    resultBox(draft, c),
    errors,
    warnings,
    h('div', { class: 'actions' }, save),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
    busy(save, async () => {
      try {
        const q = await api('/quizzes', { method: 'POST', body: draft });
        toast(saved ? 'Quiz saved' : 'Quiz created');
        warnings.replaceChildren(...(q.warnings || []).map((w) => notice(`Check: ${w}`)));
        if (!saved) ctx.navigate(`/ui/quizzes/${encodeURIComponent(q.id)}`);
      } catch (err) {
        // Point at the field the server named (`questions[1].options[0].next`).
        const path = String(err.field || '').replace(/\[\d+\]$/, '');
        const el = path && (form.querySelector(`[data-path="${CSS.escape(path)}"]`) || form.querySelector(`[data-path^="${CSS.escape(path)}."]`));
        if (el) {
          const input = el.matches('fieldset') ? el.querySelector('input, select, textarea') : el;
          input?.setAttribute('aria-invalid', 'true');
          input?.focus();
        }
        throw err;
      }
    }, errors);
  });
  c.rebuild();
  preview();
  return h(
    'div',
    { class: 'grid two' },
    panel('Questions and answers', form),
    h(
      'div',
      // The preview stays in view while the questions scroll by (a column of its own on wide screens).
      { style: 'position:sticky;top:4rem;align-self:start' },
      panel(
        'Preview',
        h('p', { class: 'small muted', text: 'The hosted quiz as a visitor sees it, following your edits (nothing is saved).' }),
        field('Show', stepPick),
        previewNote,
        h('div', { class: 'message-view' }, frame),
      ),
    ),
  );
}

export async function create(ctx) {
  return h('div', {}, pageHead('New quiz', h('a', { href: '/ui/quizzes', class: 'button secondary', text: 'All quizzes' })), editor(ctx, starter(), null));
}

export async function edit(ctx) {
  const id = ctx.params[0];
  const quiz = await api(`/quizzes/${encodeURIComponent(id)}`);
  const report = await apiOptional(`/reports/quizzes/${encodeURIComponent(id)}`);
  const draft = JSON.parse(JSON.stringify(quiz));
  delete draft.url;
  const del = h('button', { type: 'button', class: 'danger', text: 'Delete' });
  del.addEventListener('click', () => confirmDelete(quiz, del, () => {
    toast('Quiz deleted');
    ctx.navigate('/ui/quizzes');
  }));
  return h(
    'div',
    {},
    pageHead(
      quiz.name,
      h('a', { href: quiz.url, target: '_blank', rel: 'noopener', class: 'button secondary', text: 'Open the hosted quiz' }),
      del,
      h('a', { href: '/ui/quizzes', class: 'button secondary', text: 'All quizzes' }),
    ),
    panel('How it is doing', reportView(quiz, report)),
    panel('Share', field('Link to the quiz from your store', h('input', { type: 'text', readOnly: true, value: quiz.url }), 'Or show it in an iframe on any page.')),
    editor(ctx, draft, quiz),
  );
}
