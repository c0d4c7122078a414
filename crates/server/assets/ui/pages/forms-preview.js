// What the forms page shows besides the editor: the live preview of a form as visitors see it (its hosted page, or
// inline, as a popup or a flyout on a stand-in store page), its embed code, and its display rules in words.
//
// The preview is a document built with DOM calls (every text goes in as text, so whatever the marketer types is
// shown, never run) and serialised into a sandboxed `srcdoc` frame: no scripts, no form posts, styles of its own.
import { h } from '../lib.js';

/** The hosted page's look (mirrors `page()` in crates/server/src/routes/forms.rs). */
const HOSTED_CSS =
  'body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}' +
  'label{display:block;margin-bottom:.25rem}input[type=email],input[type=tel],input[type=text],textarea{width:100%;padding:.5rem;box-sizing:border-box}' +
  '.consent label{display:inline;margin-left:.5rem}.hp{position:absolute;left:-10000px}button{padding:.6rem 1.2rem}';

/** The on-site look (mirrors `style()` in crates/server/assets/js/kairos-forms.js), on a stand-in store page. */
const ONSITE_CSS =
  'body{margin:0;font-family:system-ui,sans-serif;background:#fff;color:#111}' +
  '.site-bar{height:44px;background:#f1f2f6;border-bottom:1px solid #dde;display:flex;align-items:center;padding:0 1rem;color:#667;font-size:14px}' +
  '.site-block{height:64px;margin:1rem;background:#f4f5f8;border-radius:6px}.site-inline{margin:1rem}' +
  '.kf-form{font:16px/1.4 system-ui,sans-serif;color:#111;max-width:28rem}' +
  '.kf-form h2{font-size:1.3rem;margin:0 0 .75rem}.kf-form label{display:block;margin:.5rem 0 .25rem}' +
  '.kf-form input[type=email],.kf-form input[type=tel],.kf-form input[type=text],.kf-form textarea{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #888;border-radius:4px}' +
  '.kf-form .kf-consent{display:flex;gap:.5rem;align-items:flex-start;margin:.75rem 0}.kf-form .kf-consent label{margin:0}' +
  '.kf-form button[type=submit]{margin-top:.75rem;padding:.7rem 1.2rem;font-size:1rem;background:#1a56db;color:#fff;border:0;border-radius:4px}' +
  '.kf-overlay{position:fixed;inset:0;background:rgba(0,0,0,.5);display:flex;align-items:center;justify-content:center;padding:1rem}' +
  '.kf-box{background:#fff;border-radius:8px;padding:1.5rem;position:relative;max-width:min(30rem,100%);max-height:100%;overflow:auto;box-sizing:border-box}' +
  '.kf-flyout{position:fixed;right:1rem;bottom:1rem;box-shadow:0 4px 24px rgba(0,0,0,.25);width:min(24rem,calc(100vw - 2rem))}' +
  '.kf-close{position:absolute;top:.5rem;right:.5rem;background:none;border:0;font-size:1.5rem;line-height:1;padding:.25rem .5rem}' +
  '@media (max-width:767px){.kf-flyout{right:0;left:0;bottom:0;width:auto;border-radius:8px 8px 0 0}}';

export const SUCCESS_DEFAULT = 'Thank you for signing up!';
export const SUCCESS_DOUBLE_OPT_IN = 'Almost done: check your inbox and confirm your subscription.';

/** The message a visitor reads after signing up (the server's default when the form has none). */
export function successMessage(form) {
  return (form.success_message || '').trim() || (form.double_opt_in ? SUCCESS_DOUBLE_OPT_IN : SUCCESS_DEFAULT);
}

function input(f, id) {
  const types = { email: 'email', phone: 'tel', checkbox: 'checkbox' };
  if (f.type === 'textarea') return h('textarea', { id, name: f.name, required: f.required });
  return h('input', { id, name: f.name, type: types[f.type] || 'text', required: f.required });
}

/** The hosted page's body, as `GET /f/{id}` draws it. */
function hostedBody(form, after) {
  if (after) return h('main', {}, h('p', { role: 'status', text: afterText(form) }));
  const fields = form.fields.map((f, i) => h('p', {}, h('label', { for: `f${i}`, text: f.label || f.name }), input(f, `f${i}`)));
  const consent = form.consent
    ? h('p', { class: 'consent' }, h('input', { type: 'checkbox', id: 'consent', name: 'consent' }), h('label', { for: 'consent', text: form.consent.text }))
    : null;
  return h(
    'main',
    {},
    h('h1', { text: form.name || 'Sign up' }),
    h('form', { novalidate: true }, fields, consent, h('p', {}, h('button', { type: 'submit', text: 'Sign up' }))),
  );
}

/** The form as kairos-forms.js draws it on the store's pages. */
function onsiteForm(form, after) {
  if (after) return h('p', { role: 'status', class: 'kf-thanks', text: afterText(form) });
  const fields = form.fields.map((f, i) => h('p', {}, h('label', { for: `kf${i}`, text: f.label || f.name }), input(f, `kf${i}`)));
  const consent = form.consent
    ? h('p', { class: 'kf-consent' }, h('input', { type: 'checkbox', id: 'kf-consent', name: 'consent' }), h('label', { for: 'kf-consent', text: form.consent.text }))
    : null;
  return h(
    'form',
    { class: 'kf-form', novalidate: true, 'aria-labelledby': 'kf-title' },
    h('h2', { id: 'kf-title', text: form.name || 'Sign up' }),
    fields,
    consent,
    h('button', { type: 'submit', text: 'Sign up' }),
  );
}

function afterText(form) {
  return form.redirect_url ? `Visitors go to ${form.redirect_url}` : successMessage(form);
}

function storePage(...content) {
  return [h('div', { class: 'site-bar', text: 'Your store' }), h('div', { class: 'site-block' }), ...content, h('div', { class: 'site-block' }), h('div', { class: 'site-block' })];
}

/** The frame's document: `look` is hosted, inline, popup or flyout; `after`: what shows after a sign-up. */
export function previewDocument(form, look, after) {
  let body;
  if (look === 'hosted') body = h('body', {}, hostedBody(form, after));
  else if (look === 'inline') body = h('body', {}, storePage(h('div', { class: 'site-inline' }, onsiteForm(form, after))));
  else {
    const popup = look === 'popup';
    const box = h(
      'div',
      { class: popup ? 'kf-box' : 'kf-box kf-flyout', role: 'dialog', 'aria-modal': popup ? 'true' : 'false', 'aria-labelledby': 'kf-title' },
      h('button', { type: 'button', class: 'kf-close', 'aria-label': 'Close', text: '×' }),
      onsiteForm(form, after),
    );
    body = h('body', {}, storePage(popup ? h('div', { class: 'kf-overlay' }, box) : box));
  }
  const head = h(
    'head',
    {},
    h('meta', { charset: 'utf-8' }),
    h('meta', { name: 'viewport', content: 'width=device-width, initial-scale=1' }),
    h('title', { text: form.name || 'Sign up' }),
    h('style', { text: look === 'hosted' ? HOSTED_CSS : ONSITE_CSS }),
  );
  return '<!doctype html>' + h('html', { lang: 'en' }, head, body).outerHTML;
}

/** The copy-paste tracker snippet (README "Track your site"), for the Kairos at `origin`. */
export function trackerSnippet(origin) {
  return (
    '<script>!function(){var k=window.kairos=window.kairos||[];if(k.load)return;["page","track","identify","reset",' +
    '"consent","addToCart","removeFromCart","viewCart","startCheckout"].forEach(function(m){k[m]=k[m]||function(){' +
    'k.push([m].concat([].slice.call(arguments)))}})}();kairos.page();</script>\n' +
    `<script async src="${origin}/js/kairos.js" data-write-key="YOUR_WRITE_KEY"></script>`
  );
}

/** The place of an inline form in a page. */
export function inlineSlot(id) {
  return `<div data-kairos-form="${id}"></div>`;
}

const KINDS = { hosted: 'Hosted page only', inline: 'Inline in your pages', popup: 'Popup', flyout: 'Flyout' };

/** How a form is shown, in a few words ("Popup after 5 s or on exit intent, on /products/*"). */
export function describeDisplay(d = {}) {
  const kind = KINDS[d.type] || KINDS.hosted;
  if (d.type !== 'popup' && d.type !== 'flyout') return kind;
  const when = [];
  if (d.delay_seconds !== null && d.delay_seconds !== undefined) when.push(`after ${d.delay_seconds} s`);
  if (d.scroll_percent) when.push(`at ${d.scroll_percent}% scrolled`);
  if (d.exit_intent) when.push('on exit intent');
  const parts = [when.length ? `${kind} ${when.join(' or ')}` : `${kind} (never opens: no delay, scroll depth or exit intent)`];
  if (d.show_on?.length) parts.push(`on ${d.show_on.join(', ')}`);
  if (d.hide_on?.length) parts.push(`not on ${d.hide_on.join(', ')}`);
  if (d.devices === 'desktop') parts.push('computers only');
  if (d.devices === 'mobile') parts.push('phones only');
  return parts.join(', ');
}

/** Single or double opt-in, and to which channel, in words. */
export function describeOptIn(form) {
  if (!form.consent) return 'No consent box';
  const channel = form.consent.channel === 'sms' ? 'SMS' : 'email';
  return form.double_opt_in ? `Double opt-in (${channel})` : `Single opt-in (${channel})`;
}

/** Copies text to the clipboard (the selection fallback where the Clipboard API is refused, e.g. plain http). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const t = h('textarea', { readOnly: true, value: text, class: 'offscreen', 'aria-hidden': 'true' });
    document.body.append(t);
    t.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    t.remove();
    return ok;
  }
}
