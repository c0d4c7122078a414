// Templates: the list, and an editor with a preview rendered for a chosen contact.
import { api, apiOptional, h, pageHead, panel, table, num, pct, money, dateTime, badge, field, select, busy, toast, errorBox, contactName, debounce, workspaceSettings } from '../lib.js';
import { lastDays } from './performance.js';

/** The period the templates list reports on. */
const REPORT_DAYS = 90;
import { messageView } from '../preview.js';
import { emailBlocks } from './email-blocks.js';
import { triggerEventPicker } from './trigger-event.js';
import { subjectVariants, variantNumbers } from './template-variants.js';
import { templateName } from './words.js';

const CHANNELS = ['email', 'sms', 'chat', 'webhook', 'partial', 'layout'];
/** Which parts each channel has. */
const PARTS = {
  email: ['subject', 'html', 'text'],
  sms: ['body'],
  chat: ['body'],
  webhook: ['body'],
  partial: ['html', 'body'],
  layout: ['html'],
};
const PART_LABELS = { subject: 'Subject (Liquid)', html: 'HTML body (Liquid)', text: 'Plain-text body (Liquid)', body: 'Message (Liquid)' };

export async function list() {
  const [all, report, settings] = await Promise.all([api('/templates'), apiOptional('/reports/templates', { query: lastDays(REPORT_DAYS) }).catch(() => null), workspaceSettings()]);
  const items = all.items || [];
  const currency = settings?.store?.currency || 'USD';
  const earned = Object.fromEntries((report?.items || []).map((t) => [t.template_id, t]));
  return h(
    'div',
    {},
    pageHead('Templates', h('a', { href: '/ui/templates/new', class: 'button', text: 'New template' })),
    panel(
      null,
      h('p', { class: 'muted small', text: `What each template earned in the last ${REPORT_DAYS} days, whichever flows and campaigns sent it (attributed revenue: orders within 5 days of an email open or click, 1 day of an SMS).` }),
      table(
        [
          { label: 'Template', cell: (t) => h('span', {}, h('a', { href: `/ui/templates/${encodeURIComponent(t.id)}`, text: templateName(t) }), t.variants?.length ? [' ', badge('A/B subject', 'accent')] : null) },
          { label: 'Channel', cell: (t) => badge(t.channel, 'accent') },
          { label: 'Sent', num: true, cell: (t) => num(earned[t.id]?.sent ?? 0) },
          { label: 'Open rate', num: true, cell: (t) => (earned[t.id] ? pct(earned[t.id].open_rate) : '—') },
          { label: 'Click rate', num: true, cell: (t) => (earned[t.id] ? pct(earned[t.id].click_rate) : '—') },
          { label: 'Conversions', num: true, cell: (t) => num(earned[t.id]?.conversions ?? 0) },
          { label: 'Revenue', num: true, cell: (t) => money(earned[t.id]?.revenue ?? 0, currency) },
          { label: 'Updated', cell: (t) => dateTime(t.updated_at) },
        ],
        items,
        { empty: 'No templates yet. Installing a library flow adds its templates.' },
      ),
    ),
  );
}

/** The form shared by "new" and "edit"; answers {form, body(), channel}. */
function templateForm(t, isNew) {
  const controls = {};
  const id = h('input', { type: 'text', name: 'id', value: t.id || '', pattern: '[A-Za-z0-9_\\-]{1,64}', autocomplete: 'off' });
  const name = h('input', { type: 'text', name: 'name', value: t.name || '' });
  const channel = select(CHANNELS, t.channel || 'email', { name: 'channel', disabled: !isNew });
  controls.subject = h('input', { type: 'text', name: 'subject', value: t.subject || '' });
  controls.html = h('textarea', { class: 'code', name: 'html', spellcheck: 'false', value: t.html || '' });
  controls.text = h('textarea', { class: 'code', name: 'text', spellcheck: 'false', value: t.text || '' });
  controls.body = h('textarea', { class: 'code', name: 'body', spellcheck: 'false', value: t.body || '' });
  const wrappers = Object.fromEntries(Object.entries(controls).map(([k, c]) => [k, field(PART_LABELS[k], c)]));
  // An email's "Blocks | HTML" switch and block editor (email-blocks.js); in blocks mode it makes the html.
  const blocks = emailBlocks({ t, isNew, channel, onChange: () => (show(), checkUnsub()) });
  // An email's preview text and subject line test (template-variants.js).
  const variants = subjectVariants({ t, channel });
  const show = () => {
    for (const [k, w] of Object.entries(wrappers)) w.hidden = !PARTS[channel.value].includes(k) || blocks.hides(k);
  };
  // Marketing email must let people leave: warn while neither part links {{ unsubscribe_url }} (unless a layout
  // wraps it, which may carry the link).
  const unsubWarning = h('p', { class: 'notice', role: 'status', 'data-testid': 'no-unsubscribe', hidden: true, text: 'This email has no unsubscribe link. Marketing email must carry one: add <a href="{{ unsubscribe_url }}">Unsubscribe</a> (and {{ preferences_url }} for preferences). Order receipts and other transactional email may leave it out.' });
  const checkUnsub = () => {
    const source = `${controls.html.value}\n${controls.text.value}`;
    unsubWarning.hidden = channel.value !== 'email' || Boolean(t.layout) || (blocks.active() ? blocks.hasFooter() : /unsubscribe_url/.test(source));
  };
  for (const c of [controls.html, controls.text]) c.addEventListener('input', checkUnsub);
  channel.addEventListener('change', () => (show(), checkUnsub()));
  show();
  checkUnsub();
  const body = () => {
    const out = { name: name.value.trim() || undefined, channel: channel.value };
    if (isNew && id.value.trim()) out.id = id.value.trim();
    for (const k of PARTS[channel.value]) if (controls[k].value !== '') out[k] = controls[k].value;
    return variants.apply(blocks.apply(out));
  };
  const fields = [
    isNew ? field('Id (optional)', id, 'Letters, digits, - and _; generated when empty.') : null,
    field('Name', name),
    field('Channel', channel),
    wrappers.subject,
    variants.element,
    Object.values(wrappers).filter((w) => w !== wrappers.subject),
    blocks.element,
    unsubWarning,
  ];
  return { fields, body, controls, variants };
}

export async function create(ctx) {
  const f = templateForm({ channel: 'email', subject: 'Hello {{ contact.first_name | default: "there" }}', html: '<p>Hi {{ contact.first_name | default: "there" }},</p>\n<p></p>', text: '' }, true);
  const errors = h('div');
  const save = h('button', { type: 'submit', text: 'Create template' });
  const form = h('form', { class: 'panel' }, f.fields, errors, save);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(
      save,
      async () => {
        const t = await api('/templates', { method: 'POST', body: f.body() });
        toast('Template created');
        ctx.navigate(`/ui/templates/${encodeURIComponent(t.id)}`);
      },
      errors,
    );
  });
  return h('div', {}, pageHead('New template', h('a', { href: '/ui/templates', class: 'button secondary', text: 'All templates' })), form);
}

export async function edit(ctx) {
  const id = ctx.params[0];
  const t = await api(`/templates/${encodeURIComponent(id)}`);
  const first = await api('/contacts', { query: { limit: 1 } }).catch(() => ({ items: [] }));
  const f = templateForm(t, false);
  const errors = h('div');
  const version = h('span', { class: 'badge', text: `version ${t.version}` });
  const save = h('button', { type: 'submit', text: 'Save' });
  const form = h('form', {}, f.fields, errors, h('div', { class: 'row' }, save, h('span', { class: 'muted small', text: 'The preview follows your edits; saving validates and stores a new version.' })));

  // Preview for a chosen contact (by email or id), of the draft in the editor.
  const who = h('input', { type: 'text', name: 'contact', value: first.items?.[0]?.email || (first.items?.[0] ? String(first.items[0].id) : ''), autocomplete: 'off' });
  const whoLabel = h('p', { class: 'small muted', 'aria-live': 'polite' });
  const previewSlot = h('div', { 'aria-live': 'polite' });
  const previewErrors = h('div');
  const trigger = triggerEventPicker(() => preview());
  const resolve = async () => {
    const v = who.value.trim();
    if (!v) return null;
    if (/^\d+$/.test(v)) return api(`/contacts/${v}`);
    const r = await api('/contacts', { query: v.includes('@') ? { email: v } : { user_id: v } });
    if (!r.items?.length) throw new Error(`No contact with ${v.includes('@') ? 'email' : 'user id'} ${v}.`);
    return r.items[0];
  };
  let seq = 0;
  const preview = async () => {
    const mine = ++seq;
    previewErrors.replaceChildren();
    try {
      const c = await resolve();
      if (mine !== seq) return;
      if (!c) {
        whoLabel.textContent = 'Choose a contact to preview the message for.';
        previewSlot.replaceChildren();
        return;
      }
      // The draft as it is in the editor, rendered live (nothing is saved).
      const event = await trigger.forContact(c);
      if (mine !== seq) return;
      const r = await api('/templates/preview', { method: 'POST', query: { contact_id: c.id }, body: { template: f.body(), event, variant: f.variants.previewVariant() } });
      if (mine !== seq) return;
      whoLabel.textContent = `As ${contactName(c)} would see this draft:`;
      previewSlot.replaceChildren(messageView({ ...r, channel: t.channel, to: c.email || c.phone }, { title: `Preview for ${contactName(c)}` }));
    } catch (e) {
      if (mine !== seq) return;
      previewErrors.replaceChildren(errorBox(e));
      previewSlot.replaceChildren();
    }
  };
  who.addEventListener('input', debounce(preview, 400));
  f.variants.previewPicker.addEventListener('change', preview);
  // Live preview while typing in any part of the template.
  form.addEventListener('input', debounce(preview, 400));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(
      save,
      async () => {
        const saved = await api(`/templates/${encodeURIComponent(t.id)}`, { method: 'PUT', body: f.body() });
        t.version = saved.version;
        version.textContent = `version ${saved.version}`;
        toast(`Saved version ${saved.version}`);
        await preview();
      },
      errors,
    );
  });
  // Ctrl/Cmd+S saves from anywhere in the editor.
  form.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  preview();
  const settings = await workspaceSettings();
  const numbers = await variantNumbers(t, { currency: settings?.store?.currency || 'USD', onPicked: () => ctx.navigate(location.pathname, { replace: true }) });
  return h(
    'div',
    {},
    pageHead(t.name || t.id, badge(t.channel, 'accent'), version, h('a', { href: '/ui/templates', class: 'button secondary', text: 'All templates' })),
    h(
      'div',
      { class: 'grid two' },
      panel('Editor', form),
      panel('Preview', field('Preview for contact (email, user id or contact id)', who), trigger.element, f.variants.previewPicker, whoLabel, previewErrors, previewSlot),
    ),
    numbers,
  );
}
