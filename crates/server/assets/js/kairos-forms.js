/* kairos-forms.js: draws a store's on-site forms (inline embeds, popups, flyouts) under their display rules.
 * Loaded by /js/kairos.js only when the workspace has on-site forms; reads them from window.kairos._forms.
 * Inline: <div data-kairos-form="FORM_ID"></div> anywhere on the page. Popups and flyouts show after a delay, a
 * scroll depth or on exit intent (whichever comes first), on the pages and devices they are meant for, not again
 * for `frequency_days` after they were shown, never again after a sign-up. Submissions go to the form's hosted
 * address, form-encoded (no CORS preflight), with the visitor's anonymous id so their history stays theirs.
 */
(function (w, d) {
  'use strict';
  var k = w.kairos;
  if (!k || !k._forms || k._formsDrawn) return;
  k._formsDrawn = true;
  var DAY_MS = 86400000;
  var opened = false; // one popup or flyout at a time

  function memory(id, what) {
    var key = 'kairos_form_' + id;
    try {
      if (what === undefined) return JSON.parse(w.localStorage.getItem(key) || 'null');
      w.localStorage.setItem(key, JSON.stringify({ what: what, at: Date.now() }));
    } catch (e) { /* private mode: no memory */ }
    return null;
  }

  function matches(pattern, path) {
    var parts = pattern.split('*').map(function (s) { return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'); });
    return new RegExp('^' + parts.join('.*') + '$').test(path);
  }

  function wanted(f) {
    var rule = f.display, path = w.location.pathname;
    if (rule.hide_on.some(function (p) { return matches(p, path); })) return false;
    if (rule.show_on.length && !rule.show_on.some(function (p) { return matches(p, path); })) return false;
    var phone = w.matchMedia ? w.matchMedia('(max-width: 767px)').matches : w.innerWidth < 768;
    if (rule.devices === 'mobile' && !phone) return false;
    if (rule.devices === 'desktop' && phone) return false;
    var seen = memory(f.id);
    if (!seen) return true;
    return seen.what !== 'submitted' && Date.now() - seen.at >= rule.frequency_days * DAY_MS;
  }

  function el(tag, attrs, text) {
    var e = d.createElement(tag);
    for (var a in attrs) if (attrs[a] !== undefined && attrs[a] !== null) e.setAttribute(a, attrs[a]);
    if (text) e.textContent = text; // text, never HTML: nothing a form says can run as script
    return e;
  }

  function style() {
    if (d.getElementById('kairos-forms-style')) return;
    var s = el('style', { id: 'kairos-forms-style' });
    s.textContent =
      '.kf-form{font:16px/1.4 system-ui,sans-serif;color:#111;max-width:28rem}' +
      '.kf-form h2{font-size:1.3rem;margin:0 0 .75rem}.kf-form label{display:block;margin:.5rem 0 .25rem}' +
      '.kf-form input[type=email],.kf-form input[type=tel],.kf-form input[type=text],.kf-form textarea{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #888;border-radius:4px}' +
      '.kf-form .kf-consent{display:flex;gap:.5rem;align-items:flex-start;margin:.75rem 0}.kf-form .kf-consent label{margin:0}' +
      '.kf-form button[type=submit]{margin-top:.75rem;padding:.7rem 1.2rem;font-size:1rem;background:#1a56db;color:#fff;border:0;border-radius:4px;cursor:pointer}' +
      '.kf-form .kf-error{color:#b00020;margin:.25rem 0 0;font-size:.9rem}.kf-hp{position:absolute;left:-10000px}' +
      '.kf-overlay{position:fixed;inset:0;background:rgba(0,0,0,.5);display:flex;align-items:center;justify-content:center;z-index:2147483000;padding:1rem}' +
      '.kf-box{background:#fff;border-radius:8px;padding:1.5rem;position:relative;max-width:min(30rem,100%);max-height:100%;overflow:auto;box-sizing:border-box}' +
      '.kf-flyout{position:fixed;right:1rem;bottom:1rem;z-index:2147483000;box-shadow:0 4px 24px rgba(0,0,0,.25);width:min(24rem,calc(100vw - 2rem))}' +
      '.kf-close{position:absolute;top:.5rem;right:.5rem;background:none;border:0;font-size:1.5rem;line-height:1;cursor:pointer;padding:.25rem .5rem}' +
      '@media (max-width:767px){.kf-flyout{right:0;left:0;bottom:0;width:auto;border-radius:8px 8px 0 0}}';
    d.head.appendChild(s);
  }

  function field(form, f, n) {
    var id = 'kf-' + form.id + '-' + f.name + '-' + n;
    var wrap = el('p');
    wrap.appendChild(el('label', { for: id }, f.label || f.name));
    var types = { email: 'email', phone: 'tel', checkbox: 'checkbox' };
    var input = f.type === 'textarea' ? el('textarea', { id: id, name: f.name }) :
      el('input', { id: id, name: f.name, type: types[f.type] || 'text',
        autocomplete: f.type === 'email' ? 'email' : f.type === 'phone' ? 'tel' : undefined,
        value: f.type === 'checkbox' ? 'yes' : undefined });
    if (f.required) input.required = true;
    wrap.appendChild(input);
    return wrap;
  }

  // The form under its title (which stays, naming the dialog, when the thanks replace the form); `done` runs
  // after a successful sign-up.
  function build(form, n, done) {
    var wrap = el('div', { class: 'kf-form' });
    wrap.appendChild(el('h2', { id: 'kf-title-' + form.id + '-' + n }, form.name));
    var node = el('form', { novalidate: '', 'aria-labelledby': 'kf-title-' + form.id + '-' + n });
    wrap.appendChild(node);
    form.fields.forEach(function (f) { node.appendChild(field(form, f, n)); });
    if (form.consent_text) {
      var c = el('p', { class: 'kf-consent' });
      var cid = 'kf-' + form.id + '-consent-' + n;
      c.appendChild(el('input', { type: 'checkbox', id: cid, name: 'consent', value: 'yes' }));
      c.appendChild(el('label', { for: cid }, form.consent_text));
      node.appendChild(c);
    }
    var hp = el('p', { class: 'kf-hp', 'aria-hidden': 'true' });
    hp.appendChild(el('input', { name: 'website', tabindex: '-1', autocomplete: 'off' }));
    node.appendChild(hp);
    node.appendChild(el('button', { type: 'submit' }, 'Sign up'));
    var status = el('p', { role: 'status', 'aria-live': 'polite', class: 'kf-status' });
    node.appendChild(status);
    node.addEventListener('submit', function (e) {
      e.preventDefault();
      send(form, node, status, done);
    });
    return wrap;
  }

  function send(form, node, status, done) {
    Array.prototype.forEach.call(node.querySelectorAll('.kf-error'), function (x) { x.remove(); });
    var body = new URLSearchParams(new FormData(node));
    body.set('anonymous_id', k.anonymousId());
    body.set('page', w.location.href);
    var consented = body.get('consent') === 'yes';
    status.textContent = 'Sending…';
    w.fetch(form.action, { method: 'POST', body: body, credentials: 'omit', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (r) {
        if (!r.ok) {
          var err = (r.body && r.body.error) || {};
          var input = err.field && node.querySelector('[name="' + String(err.field).replace(/"/g, '') + '"]');
          var msg = el('p', { class: 'kf-error', id: 'kf-err-' + form.id }, err.message || 'Something went wrong: try again.');
          if (input) {
            input.setAttribute('aria-invalid', 'true');
            input.setAttribute('aria-describedby', msg.id);
            input.parentNode.appendChild(msg);
            input.focus();
          }
          status.textContent = err.message || 'Something went wrong: try again.';
          return;
        }
        memory(form.id, 'submitted');
        if (consented) try { w.localStorage.setItem('kairos_subscribed', '1'); } catch (e) { /* no memory */ }
        if (form.redirect_url) { w.location.href = form.redirect_url; return; }
        var thanks = el('p', { role: 'status', class: 'kf-thanks' }, form.success_message);
        node.replaceWith(thanks);
        if (done) done(thanks);
      }, function () { status.textContent = 'We could not reach the server: try again.'; });
  }

  function open(form) {
    if (opened) return;
    opened = true;
    memory(form.id, 'shown');
    style();
    var popup = form.display.type === 'popup';
    var before = d.activeElement;
    var box = el('div', { class: 'kf-box' + (popup ? '' : ' kf-flyout'), role: 'dialog',
      'aria-modal': popup ? 'true' : 'false', 'aria-labelledby': 'kf-title-' + form.id + '-0', 'data-kairos-popup': form.id });
    var outer = popup ? el('div', { class: 'kf-overlay' }) : box;
    if (popup) outer.appendChild(box);
    var close = el('button', { type: 'button', class: 'kf-close', 'aria-label': 'Close' }, '×');
    function shut() {
      outer.remove();
      d.removeEventListener('keydown', keys);
      if (before && before.focus) before.focus();
    }
    function keys(e) {
      if (e.key === 'Escape') shut();
      if (e.key === 'Tab' && popup) { // the focus stays in the dialog
        var all = box.querySelectorAll('button, input:not([tabindex="-1"]), textarea, a[href]');
        var first = all[0], last = all[all.length - 1];
        if (e.shiftKey && d.activeElement === first) { last.focus(); e.preventDefault(); }
        else if (!e.shiftKey && d.activeElement === last) { first.focus(); e.preventDefault(); }
      }
    }
    close.addEventListener('click', shut);
    if (popup) outer.addEventListener('click', function (e) { if (e.target === outer) shut(); });
    d.addEventListener('keydown', keys);
    box.appendChild(close);
    box.appendChild(build(form, 0, function (thanks) { thanks.focus && thanks.setAttribute('tabindex', '-1'); }));
    d.body.appendChild(outer);
    var first = box.querySelector('input:not([tabindex="-1"]), textarea');
    if (first) first.focus();
  }

  // Shows `form` on the first of its triggers: delay, scroll depth, exit intent.
  function arm(form) {
    var rule = form.display, fired = false;
    function fire() {
      if (fired) return;
      fired = true;
      w.removeEventListener('scroll', scrolled);
      d.removeEventListener('mouseout', leaving);
      open(form);
    }
    function scrolled() {
      var el = d.documentElement;
      var depth = (w.scrollY + w.innerHeight) / Math.max(el.scrollHeight, 1) * 100;
      if (depth >= rule.scroll_percent) fire();
    }
    function leaving(e) { if (!e.relatedTarget && e.clientY <= 0) fire(); }
    if (rule.delay_seconds !== null && rule.delay_seconds !== undefined) w.setTimeout(fire, rule.delay_seconds * 1000);
    if (rule.scroll_percent) w.addEventListener('scroll', scrolled, { passive: true });
    if (rule.exit_intent) d.addEventListener('mouseout', leaving);
  }

  function start() {
    k._forms.forEach(function (form) {
      if (form.display.type === 'inline') {
        var slots = d.querySelectorAll('[data-kairos-form="' + form.id.replace(/"/g, '') + '"]');
        if (slots.length) style();
        Array.prototype.forEach.call(slots, function (slot, i) { slot.appendChild(build(form, i + 1)); });
      } else if (wanted(form)) {
        arm(form);
      }
    });
  }
  if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', start); else start();
})(window, document);
