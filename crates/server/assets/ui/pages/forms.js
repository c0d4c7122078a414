// Signup forms: the workspace's forms in words, and an editor (fields mapped to profile fields, the consent box
// with its exact text, double opt-in, what follows a sign-up, how and when it shows on the store's pages) beside a
// live preview and the embed code. Saved through POST /api/v1/forms; a refused field is shown next to its control.
import { api, h, pageHead, panel, table, field, select, busy, toast, errorBox, nextId, frameWriter } from '../lib.js';
import { previewDocument, trackerSnippet, inlineSlot, describeDisplay, describeOptIn, copyText, SUCCESS_DEFAULT, SUCCESS_DOUBLE_OPT_IN } from './forms-preview.js';
import { fieldsEditor } from './forms-fields.js';

/** A "Copy" button for `text`; `what` names it for screen readers. */
function copyButton(text, what) {
  const b = h('button', { type: 'button', class: 'secondary small-button', text: 'Copy', 'aria-label': `Copy ${what}` });
  b.addEventListener('click', async () => toast((await copyText(text())) ? 'Copied' : 'Select the text and copy it with Ctrl+C', false));
  return b;
}

export async function list() {
  const items = (await api('/forms')).items || [];
  return h(
    'div',
    {},
    pageHead('Forms', h('a', { href: '/ui/forms/new', class: 'button', text: 'New form' })),
    h('p', { class: 'muted', text: 'Forms collect sign-ups: on a page Kairos hosts for you, inline in your own pages, or as a popup or flyout. Every sign-up becomes a contact, with their consent and its evidence.' }),
    panel(
      null,
      table(
        [
          { label: 'Form', cell: (f) => h('a', { href: `/ui/forms/${encodeURIComponent(f.id)}`, text: f.name }) },
          { label: 'Shown as', cell: (f) => describeDisplay(f.display) },
          { label: 'Opt-in', cell: (f) => describeOptIn(f) },
          {
            label: 'Hosted address',
            cell: (f) => h('span', { class: 'copy-line' }, h('a', { href: f.url, class: 'wrap-anywhere', text: f.url, target: '_blank', rel: 'noopener' }), copyButton(() => f.url, `the address of ${f.name}`)),
          },
        ],
        items,
        { empty: 'No forms yet. Create one to start collecting sign-ups.', rowAttrs: (f) => ({ 'data-form': f.name }) },
      ),
    ),
  );
}

const DISPLAY_TYPES = [
  ['hosted', 'Only on its hosted page'],
  ['inline', 'Inline, where you place it in your pages'],
  ['popup', 'Popup'],
  ['flyout', 'Flyout in a corner of the page'],
];
const DEVICES = [
  ['all', 'Phones and computers'],
  ['desktop', 'Computers only'],
  ['mobile', 'Phones only'],
];
const NEW_FORM = {
  name: '',
  fields: [{ name: 'email', type: 'email', label: 'Email', required: true }],
  consent: { channel: 'email', text: 'Yes, send me news and offers by email. I can unsubscribe at any time.' },
  double_opt_in: false,
  display: { type: 'popup', delay_seconds: 5, scroll_percent: null, exit_intent: false, show_on: [], hide_on: [], frequency_days: 7, hide_for_subscribers: true, devices: 'all' },
};

const lines = (t) => t.split('\n').map((s) => s.trim()).filter(Boolean);
const numberOrNull = (v) => (v.trim() === '' ? null : Number(v));

/**
 * Field-named errors: each control registers under the API's path for it (`display.delay_seconds`,
 * `fields[1].name`); a refusal is shown under the nearest registered path, with the control marked invalid.
 */
function errorSlots() {
  const slots = new Map();
  const shown = [];
  return {
    add(path, control, wrap) {
      slots.set(path, { control, wrap });
    },
    drop(prefix) {
      for (const k of [...slots.keys()]) if (k.startsWith(prefix)) slots.delete(k);
    },
    clear() {
      for (const [el, control, before] of shown.splice(0)) {
        el.remove();
        control.removeAttribute('aria-invalid');
        if (before) control.setAttribute('aria-describedby', before);
        else control.removeAttribute('aria-describedby');
      }
    },
    /** Shows `e` by its field; answers the control's label text, or null when no control has that path. */
    show(e) {
      let path = e.field || '';
      while (path && !slots.has(path)) path = path.includes('.') || path.includes('[') ? path.replace(/(\.[^.[]*|\[\d+\])$/, '') : '';
      const slot = slots.get(path);
      if (!slot || !slot.wrap.isConnected) return null;
      const id = nextId('err');
      const msg = h('p', { class: 'form-error field-error', id, role: 'alert', text: e.message });
      slot.wrap.append(msg);
      const before = slot.control.getAttribute('aria-describedby');
      slot.control.setAttribute('aria-invalid', 'true');
      slot.control.setAttribute('aria-describedby', [before, id].filter(Boolean).join(' '));
      shown.push([msg, slot.control, before]);
      slot.control.focus();
      return slot.wrap.querySelector('label, legend')?.textContent || 'the field';
    },
  };
}

/** A labelled field registered under `path` for the server's errors. */
function checked(errors, path, label, control, hint) {
  const wrap = field(label, control, hint);
  errors.add(path, control, wrap);
  return wrap;
}

function check(label, control) {
  return h('label', { class: 'check' }, control, label);
}

export async function edit(ctx) {
  const id = ctx.params[0];
  const [form, templates] = await Promise.all([
    id ? api(`/forms/${encodeURIComponent(id)}`) : structuredClone(NEW_FORM),
    api('/templates').then((r) => (r.items || []).filter((t) => t.channel === 'email' && t.id !== 'kairos-confirm-subscription')).catch(() => []),
  ]);
  const d = { ...NEW_FORM.display, ...(form.display || {}) };
  const errors = errorSlots();
  const generalErrors = h('div', { 'aria-live': 'polite' });

  const name = h('input', { type: 'text', name: 'name', value: form.name || '', autocomplete: 'off', required: true });
  const fields = fieldsEditor(form.fields || [], errors);

  // Consent and double opt-in.
  const askConsent = h('input', { type: 'checkbox', name: 'ask_consent', checked: Boolean(form.consent) });
  const channel = select([['email', 'Email'], ['sms', 'Text messages (SMS)']], form.consent?.channel || 'email', { name: 'consent_channel' });
  const consentText = h('textarea', { name: 'consent_text', rows: 3, value: form.consent?.text || NEW_FORM.consent.text });
  const consentBox = h('div', {}, checked(errors, 'consent.channel', 'Consent to', channel), checked(errors, 'consent.text', 'Text beside the box', consentText, 'Shown exactly as written; it is stored with each sign-up as the evidence of what the person agreed to.'));
  const doubleOptIn = h('input', { type: 'checkbox', name: 'double_opt_in', checked: Boolean(form.double_opt_in) });
  const doubleWhy = h('p', { class: 'hint small muted' });
  const confirmation = select(
    [['', 'The built-in confirmation email'], ...templates.map((t) => [t.id, t.name || 'Untitled template'])].concat(
      form.confirmation_template && !templates.some((t) => t.id === form.confirmation_template) ? [[form.confirmation_template, 'A template that no longer exists']] : [],
    ),
    form.confirmation_template || '',
    { name: 'confirmation_template' },
  );
  const confirmationBox = checked(errors, 'confirmation_template', 'Confirmation email', confirmation, 'Your own email template puts the link where it writes {{ event.confirm_url }}.');
  const doubleWrap = h('div', {}, check('Double opt-in: confirm the address by email', doubleOptIn));
  errors.add('double_opt_in', doubleOptIn, doubleWrap);

  // After a sign-up.
  const afterName = nextId('after');
  const redirectChosen = Boolean(form.redirect_url);
  const showMessage = h('input', { type: 'radio', name: afterName, value: 'message', checked: !redirectChosen });
  const goToPage = h('input', { type: 'radio', name: afterName, value: 'redirect', checked: redirectChosen });
  // A message left to its default is shown as the placeholder, so it follows the double opt-in choice.
  const ownMessage = id && ![SUCCESS_DEFAULT, SUCCESS_DOUBLE_OPT_IN].includes(form.success_message) ? form.success_message || '' : '';
  const message = h('textarea', { name: 'success_message', rows: 2, value: ownMessage });
  const redirect = h('input', { type: 'url', name: 'redirect_url', value: form.redirect_url || '', placeholder: 'https://your-store.example/thanks', inputmode: 'url' });
  const messageWrap = checked(errors, 'success_message', 'Message', message, 'Empty: the default message below.');
  const redirectWrap = checked(errors, 'redirect_url', 'Page address', redirect);

  // Where and when it shows.
  const kind = select(DISPLAY_TYPES, d.type, { name: 'display_type' });
  const delay = h('input', { type: 'number', name: 'delay_seconds', min: 0, max: 3600, step: 1, inputmode: 'numeric', value: d.delay_seconds ?? '' });
  const scroll = h('input', { type: 'number', name: 'scroll_percent', min: 1, max: 100, step: 1, inputmode: 'numeric', value: d.scroll_percent ?? '' });
  const exit = h('input', { type: 'checkbox', name: 'exit_intent', checked: Boolean(d.exit_intent) });
  const showOn = h('textarea', { name: 'show_on', rows: 2, value: (d.show_on || []).join('\n'), placeholder: '/products/*' });
  const hideOn = h('textarea', { name: 'hide_on', rows: 2, value: (d.hide_on || []).join('\n'), placeholder: '/checkout*' });
  const frequency = h('input', { type: 'number', name: 'frequency_days', min: 0, max: 365, step: 1, inputmode: 'numeric', value: d.frequency_days ?? 7 });
  const hideSubscribers = h('input', { type: 'checkbox', name: 'hide_for_subscribers', checked: d.hide_for_subscribers !== false });
  const devices = select(DEVICES, d.devices || 'all', { name: 'devices' });
  const exitWrap = h('div', {}, check('When the visitor is about to leave the page (exit intent, on computers)', exit));
  errors.add('display.exit_intent', exit, exitWrap);
  const hideWrap = h('div', {}, check('Hide from people who are already subscribed', hideSubscribers));
  errors.add('display.hide_for_subscribers', hideSubscribers, hideWrap);
  const neverOpens = h('p', { class: 'notice', role: 'note', text: 'With no delay, scroll depth or exit intent this never opens.' });
  const rules = h(
    'div',
    {},
    h(
      'fieldset',
      {},
      h('legend', { text: 'It opens at the first of' }),
      h('div', { class: 'grid two' }, checked(errors, 'display.delay_seconds', 'Seconds on the page', delay, 'Empty: no delay.'), checked(errors, 'display.scroll_percent', 'Scrolled down (% of the page)', scroll, 'Empty: any depth.')),
      exitWrap,
      neverOpens,
    ),
    h('div', { class: 'grid two' }, checked(errors, 'display.show_on', 'Show only on pages', showOn, 'One path per line; * matches anything. Empty: every page.'), checked(errors, 'display.hide_on', 'Never on pages', hideOn, 'One path per line, e.g. /checkout*')),
    h('div', { class: 'grid two' }, checked(errors, 'display.frequency_days', 'Show again after (days)', frequency, 'After a visitor closed it. Never again once they signed up.'), checked(errors, 'display.devices', 'Devices', devices)),
  );
  const hostedNote = h('p', { class: 'muted small', text: 'Share its address (below, once saved) or link to it from your site, emails and social profiles.' });

  /** The form as the API takes it, from what the controls say now. */
  const body = () => {
    const consent = askConsent.checked ? { channel: channel.value, text: consentText.value } : null;
    const out = {
      name: name.value,
      fields: fields.value(),
      consent,
      double_opt_in: Boolean(consent && consent.channel === 'email' && doubleOptIn.checked),
      confirmation_template: confirmation.value || null,
      success_message: message.value.trim() ? message.value : null,
      redirect_url: goToPage.checked && redirect.value.trim() ? redirect.value.trim() : null,
      display: {
        type: kind.value,
        delay_seconds: numberOrNull(delay.value),
        scroll_percent: numberOrNull(scroll.value),
        exit_intent: exit.checked,
        show_on: lines(showOn.value),
        hide_on: lines(hideOn.value),
        frequency_days: numberOrNull(frequency.value),
        hide_for_subscribers: hideSubscribers.checked,
        devices: devices.value,
      },
    };
    if (!out.double_opt_in) out.confirmation_template = null;
    if (id) out.id = id;
    return out;
  };

  // Preview and embed code.
  const look = select([['hosted', 'Its hosted page']], 'hosted', { name: 'preview_look' });
  const afterSignUp = h('input', { type: 'checkbox', name: 'preview_after' });
  const frame = h('iframe', { sandbox: '', title: 'Preview of the form', class: 'form-preview', referrerpolicy: 'no-referrer' });
  const showInFrame = frameWriter(frame);
  const embed = h('div', { 'data-testid': 'embed' });
  let saved = id ? form : null;

  /** The looks to preview: the chosen display first, then the hosted page every form has. */
  const syncLooks = () => {
    const label = { inline: 'Inline on your site', popup: 'A popup on your site', flyout: 'A flyout on your site' }[kind.value];
    const want = label ? [[kind.value, label], ['hosted', 'Its hosted page']] : [['hosted', 'Its hosted page']];
    if ([...look.options].map((o) => o.value).join() === want.map(([v]) => v).join()) return;
    look.replaceChildren(...want.map(([v, l]) => h('option', { value: v, text: l })));
    look.value = want[0][0];
  };
  const drawEmbed = () => {
    if (!saved) {
      embed.replaceChildren(h('p', { class: 'muted', text: 'Save the form to get its address and the code for your site.' }));
      return;
    }
    const origin = new URL(saved.url).origin;
    const parts = [field('Hosted address', h('input', { type: 'text', readOnly: true, value: saved.url, name: 'hosted_url' })), h('p', {}, copyButton(() => saved.url, 'the hosted address'))];
    if (kind.value !== 'hosted') {
      const code = trackerSnippet(origin) + (kind.value === 'inline' ? `\n\n<!-- where the form goes -->\n${inlineSlot(saved.id)}` : '');
      const says =
        kind.value === 'inline'
          ? 'Paste the tracker in every page’s <head> (once for the whole site), and the <div> where the form goes.'
          : `Paste the tracker in every page’s <head> (once for the whole site): the ${kind.value} opens by itself under the rules you chose.`;
      parts.push(
        h('p', { class: 'small', text: says }),
        field('Code for your site', h('textarea', { class: 'code', readOnly: true, rows: 7, name: 'embed_code', spellcheck: 'false', value: code }), 'Replace YOUR_WRITE_KEY with the workspace’s write key (the public one). If the tracker is already on your pages, only the <div> is new.'),
        h('p', {}, copyButton(() => code, 'the code for your site')),
      );
      if (kind.value !== 'inline' && id && saved.display?.type !== kind.value) parts.push(h('p', { class: 'notice', text: 'Save to apply the new display.' }));
    }
    embed.replaceChildren(...parts);
  };
  const redraw = () => {
    const f = body();
    const isPopup = kind.value === 'popup' || kind.value === 'flyout';
    rules.hidden = !isPopup;
    hostedNote.hidden = kind.value !== 'hosted';
    hideWrap.hidden = kind.value === 'hosted';
    neverOpens.hidden = !(isPopup && f.display.delay_seconds === null && f.display.scroll_percent === null && !f.display.exit_intent);
    consentBox.hidden = !askConsent.checked;
    const canDouble = askConsent.checked && channel.value === 'email';
    doubleOptIn.disabled = !canDouble;
    doubleWhy.textContent = canDouble
      ? 'Kairos emails a confirmation link; the person is subscribed, with the evidence of both the sign-up and the confirmation, only when they follow it (within 7 days).'
      : 'Double opt-in confirms an email address: it needs the consent box for email.';
    confirmationBox.hidden = !f.double_opt_in;
    messageWrap.hidden = goToPage.checked;
    redirectWrap.hidden = !goToPage.checked;
    message.placeholder = f.double_opt_in ? SUCCESS_DOUBLE_OPT_IN : SUCCESS_DEFAULT;
    syncLooks();
    showInFrame(previewDocument(f, look.value, afterSignUp.checked));
    drawEmbed();
  };

  const save = h('button', { type: 'submit', text: 'Save form' });
  const editor = h(
    'form',
    { novalidate: true, 'aria-label': 'Form editor' },
    checked(errors, 'name', 'Form name', name, 'Shown to visitors as the form’s title.'),
    fields.node,
    h('fieldset', {}, h('legend', { text: 'Consent' }), check('Ask for consent to marketing (a box to tick)', askConsent), consentBox, doubleWrap, doubleWhy, confirmationBox),
    h('fieldset', {}, h('legend', { text: 'After signing up' }), h('div', { class: 'row' }, check('Show a message', showMessage), check('Send them to a page', goToPage)), messageWrap, redirectWrap),
    h('fieldset', {}, h('legend', { text: 'Where it shows' }), checked(errors, 'display.type', 'How it is shown', kind), hostedNote, rules, hideWrap),
    generalErrors,
    h('div', { class: 'actions' }, save, id ? deleteButton(form, ctx) : null),
  );
  editor.addEventListener('input', redraw);
  editor.addEventListener('change', redraw);
  fields.onChange(redraw);
  editor.addEventListener('submit', (e) => {
    e.preventDefault();
    errors.clear();
    generalErrors.replaceChildren();
    busy(save, async () => {
      try {
        saved = await api('/forms', { method: 'POST', body: body() });
      } catch (err) {
        const where = errors.show(err);
        generalErrors.replaceChildren(where ? h('p', { class: 'form-error', text: `Not saved: see “${where}” above.` }) : errorBox(err));
        return;
      }
      toast(`Saved ${saved.name}`);
      if (!id) await ctx.navigate(`/ui/forms/${encodeURIComponent(saved.id)}`, { replace: true });
      else redraw();
    });
  });
  const previewPanel = panel(
    'Preview',
    h('div', { class: 'row' }, field('Preview as', look), h('div', { class: 'field shrink' }, check('Show it after a sign-up', afterSignUp))),
    frame,
    h('p', { class: 'small muted', text: 'As visitors see it; nothing here is sent.' }),
  );
  previewPanel.addEventListener('change', redraw);
  // Drawn once the frame is in the page: a srcdoc given to a detached frame may be dropped by the first load.
  setTimeout(redraw, 0);
  return h(
    'div',
    {},
    pageHead(id ? form.name : 'New form', h('a', { href: '/ui/forms', class: 'button secondary', text: 'All forms' })),
    h('div', { class: 'form-designer' }, panel('Design', editor), h('div', {}, previewPanel, panel('Put it on your site', embed))),
  );
}

/** "Delete form", confirmed in a modal dialog (Escape cancels). */
function deleteButton(form, ctx) {
  const b = h('button', { type: 'button', class: 'danger', text: 'Delete form' });
  b.addEventListener('click', () => {
    const titleId = nextId('dlg');
    const confirm = h('button', { type: 'button', class: 'danger-solid', text: 'Delete permanently' });
    const cancel = h('button', { type: 'button', class: 'secondary', text: 'Cancel' });
    const errors = h('div', { 'aria-live': 'polite' });
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId, text: `Delete ${form.name}?` }),
      h('p', { text: 'Its hosted page, inline embeds and popups stop at once. The sign-ups it collected stay on the contacts, with their consent.' }),
      errors,
      h('div', { class: 'actions' }, confirm, cancel),
    );
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (b.isConnected) b.focus();
    });
    confirm.addEventListener('click', () =>
      busy(
        confirm,
        async () => {
          await api(`/forms/${encodeURIComponent(form.id)}`, { method: 'DELETE' });
          dialog.close();
          toast(`Deleted ${form.name}`);
          ctx.navigate('/ui/forms');
        },
        errors,
      ),
    );
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
  return b;
}
