// An email's preview text and its subject-line test (templates.js hooks them into the template form): "Preview
// text", "Add a subject line variant" with a subject and preview text per variant and a remove button, the line
// picked as the winner, and on a saved template each line's numbers in words ("B leads on open rate, 92%
// confidence" or "too early to tell") with a button to send the best line to everyone.
import { api, h, field, panel, table, num, pct, money, toast, confirmDialog } from '../lib.js';
import { lastDays } from './performance.js';

/** Variants besides the template's own subject (the server's limit). */
const VARIANTS_MAX = 4;
/** The period the numbers cover. */
const REPORT_DAYS = 90;
/** Delivered emails each line needs before its lead means much (the server's `enough_data`). */
const DELIVERED_MIN = 100;

const letter = (i) => String.fromCharCode(65 + i);

/**
 * The preview text and subject variants of template `t`; `channel` is the form's channel select (only an email
 * has them). Answers { element, apply(body), previewPicker, previewVariant() }.
 */
export function subjectVariants({ t, channel }) {
  const state = {
    variants: (t.variants || []).map((v) => ({ subject: v.subject || '', preview_text: v.preview_text || '' })),
    winner: t.winner || null,
  };
  const preview = h('input', { type: 'text', name: 'preview_text', value: t.preview_text || '', autocomplete: 'off' });
  const list = h('ol', { class: 'subject-variants', 'aria-label': 'Subject lines tested against the subject above' });
  const status = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  const add = h('button', { type: 'button', class: 'secondary', text: 'Add a subject line variant' });
  const winnerNote = h('p', { class: 'notice', role: 'note' });
  const element = h('div', { class: 'subject-test' });
  const changed = () => element.dispatchEvent(new Event('input', { bubbles: true }));
  // The preview panel's choice of subject line.
  const picker = h('select', { name: 'preview-variant' });
  const pickerField = field('Subject line to preview', picker);

  const redraw = (focusIndex) => {
    list.replaceChildren(
      ...state.variants.map((v, i) => {
        const name = `Subject line ${letter(i + 1)}`;
        const subject = h('input', { type: 'text', name: `variants[${i}].subject`, value: v.subject, autocomplete: 'off', required: true });
        subject.addEventListener('input', () => (v.subject = subject.value));
        const text = h('input', { type: 'text', name: `variants[${i}].preview_text`, value: v.preview_text, autocomplete: 'off' });
        text.addEventListener('input', () => (v.preview_text = text.value));
        const remove = h('button', {
          type: 'button',
          class: 'danger small-button',
          text: 'Remove',
          'aria-label': `Remove subject line ${letter(i + 1)}`,
          onclick: () => {
            state.variants.splice(i, 1);
            // The letters after it move up: a winner among them no longer names the same line.
            if (state.winner && state.winner !== 'A') state.winner = null;
            status.textContent = `Subject line ${letter(i + 1)} removed.`;
            redraw(Math.min(i, state.variants.length - 1));
            changed();
          },
        });
        return h(
          'li',
          { class: 'subject-variant' },
          h('fieldset', {}, h('legend', { text: name }), field(`Subject ${letter(i + 1)} (Liquid)`, subject), field(`Preview text ${letter(i + 1)} (optional)`, text, 'Without one, the preview text above is used.'), remove),
        );
      }),
    );
    add.disabled = state.variants.length >= VARIANTS_MAX;
    add.title = add.disabled ? `At most ${VARIANTS_MAX} variants besides the subject above.` : '';
    winnerNote.hidden = !state.winner;
    winnerNote.replaceChildren(
      `Subject line ${state.winner} was picked as the winner: everyone gets it. `,
      h('button', {
        type: 'button',
        class: 'secondary small-button',
        text: 'Test again',
        onclick: () => {
          state.winner = null;
          status.textContent = 'The test starts again when you save: recipients are split between the subject lines.';
          redraw();
          changed();
        },
      }),
    );
    const lines = ['A', ...state.variants.map((_, i) => letter(i + 1))];
    const was = picker.value || 'A';
    picker.replaceChildren(...lines.map((l) => h('option', { value: l, selected: l === was }, l === 'A' ? 'A (the subject above)' : l)));
    pickerField.hidden = lines.length < 2 || channel.value !== 'email';
    if (focusIndex !== undefined && focusIndex >= 0) list.children[focusIndex]?.querySelector('input')?.focus();
    else if (focusIndex !== undefined) add.focus();
  };

  add.addEventListener('click', () => {
    if (state.variants.length >= VARIANTS_MAX) return;
    state.variants.push({ subject: '', preview_text: '' });
    status.textContent = `Subject line ${letter(state.variants.length)} added.`;
    redraw(state.variants.length - 1);
    changed();
  });

  const showForChannel = () => {
    element.hidden = channel.value !== 'email';
    pickerField.hidden = element.hidden || state.variants.length === 0;
  };
  channel.addEventListener('change', showForChannel);
  element.append(
    field('Preview text (Liquid, optional)', preview, 'Inboxes show it after the subject line; it is hidden in the email itself.'),
    h(
      'div',
      { class: 'field' },
      h('h3', { class: 'small-heading', text: 'Subject line test' }),
      h('p', { class: 'small muted', text: 'Add other subject lines (with their own preview text) to find the one people open most. Each recipient gets one of them, chosen evenly, and always the same one; A is the subject above.' }),
      winnerNote,
      list,
      add,
      status,
    ),
  );
  redraw();
  showForChannel();

  return {
    element,
    previewPicker: pickerField,
    previewVariant: () => (pickerField.hidden ? undefined : picker.value),
    /** Puts the preview text, variants and winner into the request body (an email only). */
    apply(body) {
      if (channel.value !== 'email') return body;
      if (preview.value.trim()) body.preview_text = preview.value;
      const variants = state.variants.map((v) => (v.preview_text.trim() ? { subject: v.subject, preview_text: v.preview_text } : { subject: v.subject }));
      if (variants.length) body.variants = variants;
      if (state.winner && (state.winner === 'A' || state.winner.charCodeAt(0) - 65 <= variants.length)) body.winner = state.winner;
      return body;
    },
  };
}

/** The sentence about a test's lead, in words. */
export function leadSentence(item) {
  const lead = item.lead;
  if (!lead) return 'Too early to tell: the subject lines need delivered emails before they can be compared.';
  const confidence = `${Math.round(lead.confidence * 100)}% confidence`;
  if (!lead.enough_data) return `Too early to tell: ${lead.variant} leads on open rate so far (${confidence}), but each subject line needs ${DELIVERED_MIN} delivered emails first.`;
  if (!lead.decided) return `${lead.variant} leads on open rate, ${confidence}: not yet a clear winner.`;
  return `${lead.variant} wins on open rate, ${confidence}.`;
}

/** The numbers of a saved template's subject lines, as a panel (null when it tests none). */
export async function variantNumbers(t, { currency, onPicked }) {
  if (t.channel !== 'email' || !(t.variants || []).length) return null;
  const report = await api('/reports/templates', { query: lastDays(REPORT_DAYS) }).catch(() => null);
  const item = (report?.items || []).find((i) => i.template_id === t.id);
  const lines = item?.variants || ['A', ...t.variants.map((_, i) => letter(i + 1))].map((variant, i) => ({ variant, subject: i === 0 ? t.subject : t.variants[i - 1].subject, sent: 0, delivered: 0, open_rate: 0, click_rate: 0, conversions: 0, revenue: 0 }));
  const pick = (line) =>
    h('button', {
      type: 'button',
      class: 'secondary small-button',
      text: t.winner === line.variant ? 'Sent to everyone' : 'Send to everyone',
      disabled: t.winner === line.variant,
      'aria-label': `Send subject line ${line.variant} to everyone`,
      onclick: (e) =>
        confirmDialog({
          title: `Send subject line ${line.variant} to everyone?`,
          body: [`From now on every recipient gets “${line.subject ?? ''}”. The other lines stay on record with their numbers; “Test again” in the editor splits recipients again.`],
          confirmText: `Send ${line.variant} to everyone`,
          opener: e.currentTarget,
          action: async () => {
            await api(`/templates/${encodeURIComponent(t.id)}/variants/${line.variant}/winner`, { method: 'POST', body: {} });
            toast(`Subject line ${line.variant} goes to everyone now`);
            onPicked?.();
          },
        }),
    });
  return panel(
    'Subject line test',
    h('p', { class: 'small muted', text: `Emails sent from this template in the last ${REPORT_DAYS} days, by subject line. Open rate is human opens per delivered email.` }),
    h('p', { class: 'lead-sentence', 'data-testid': 'variant-lead', text: t.winner ? `Subject line ${t.winner} was picked: everyone gets it. ${leadSentence(item || {})}` : leadSentence(item || {}) }),
    table(
      [
        { label: 'Subject line', cell: (l) => h('span', {}, h('strong', { text: `${l.variant} ` }), l.subject ?? '(no longer in the template)') },
        { label: 'Sent', num: true, cell: (l) => num(l.sent) },
        { label: 'Open rate', num: true, cell: (l) => pct(l.open_rate) },
        { label: 'Click rate', num: true, cell: (l) => pct(l.click_rate) },
        { label: 'Conversions', num: true, cell: (l) => num(l.conversions) },
        { label: 'Revenue', num: true, cell: (l) => money(l.revenue, currency) },
        { label: 'Winner', cell: (l) => (l.subject === null || l.subject === undefined ? '—' : pick(l)) },
      ],
      lines,
      { caption: 'Each subject line’s emails and what they earned' },
    ),
  );
}
