// Shared helpers: building the DOM (text only ever goes in as text nodes), the API client, formatting.

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? '';

/** The session's CSRF token: every API call echoes it in X-CSRF-Token. */
export const CSRF = meta('csrf-token');
export const WORKSPACE_ID = meta('workspace-id');
const serverNowAtLoad = Date.parse(meta('server-now'));
const loadedAt = Date.now();

/** The server's clock (it may run ahead of this browser's under `--dev-clock`). */
export function serverNow() {
  return new Date((Number.isFinite(serverNowAtLoad) ? serverNowAtLoad : loadedAt) + (Date.now() - loadedAt));
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `The request failed (HTTP ${status}).`);
    this.status = status;
    this.code = body?.error?.code;
    this.field = body?.error?.field;
  }
}

/** Calls `/api/v1{path}` with the session cookie and CSRF token; answers the JSON body or throws ApiError. */
/** `raw`: a text body sent as CSV instead of `body` as JSON. */
export async function api(path, { method = 'GET', body, query, raw } = {}) {
  let url = '/api/v1' + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const s = q.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const headers = { 'X-CSRF-Token': CSRF, Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  } else if (raw !== undefined) {
    headers['Content-Type'] = 'text/csv';
    init.body = raw;
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch {
    throw new ApiError(0, { error: { message: 'The server cannot be reached.' } });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.status === 401) {
    location.assign('/ui/login?next=' + encodeURIComponent(location.pathname + location.search));
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/**
 * Downloads `/api/v1{path}` as the file `name`: the API wants the CSRF header, which a plain link cannot send, so
 * the file is fetched and handed to the browser.
 */
export async function download(path, name) {
  const res = await fetch('/api/v1' + path, { headers: { 'X-CSRF-Token': CSRF }, credentials: 'same-origin' });
  if (!res.ok) {
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    throw new ApiError(res.status, data);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Like api(), but null when the endpoint does not exist on this server (404/405): features of later releases. */
export async function apiOptional(path, opts) {
  try {
    return await api(path, opts);
  } catch (e) {
    if (e.status === 404 || e.status === 405) return null;
    throw e;
  }
}

/** Every item of a list endpoint (following next_cursor), at most `max`. */
export async function allItems(path, query = {}, max = 5000) {
  const out = [];
  let cursor = null;
  do {
    const page = await api(path, { query: { ...query, limit: Math.min(1000, max - out.length), cursor } });
    out.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return { items: out, more: Boolean(cursor) };
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (['value', 'checked', 'selected', 'disabled', 'hidden', 'required', 'multiple', 'readOnly'].includes(k)) {
      el[k] = v;
    } else el.setAttribute(k, v === true ? '' : String(v));
  }
}

/** h('tag', {attrs}, ...children): an element; strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** The same for SVG. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Only http(s) URLs become links or images (never javascript: or data:). */
export function safeUrl(u) {
  if (!u) return null;
  try {
    const url = new URL(String(u), location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

let uid = 0;
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}${uid}`;
}

/** A labelled form field: label + control (+ hint, tied with aria-describedby). */
export function field(label, control, hint) {
  if (!control.id) control.id = nextId();
  const wrap = h('div', { class: 'field' }, h('label', { for: control.id, text: label }), control);
  if (hint) {
    const hid = control.id + '-hint';
    control.setAttribute('aria-describedby', hid);
    wrap.append(h('div', { class: 'hint', id: hid, text: hint }));
  }
  return wrap;
}

export function select(options, value, attrs = {}) {
  return h(
    'select',
    attrs,
    options.map((o) => {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: String(v) === String(value) }, label);
    }),
  );
}

/** The page title row: <h1> (focused after navigation) and actions. */
export function pageHead(title, ...actions) {
  return h(
    'div',
    { class: 'page-head' },
    h('h1', { tabindex: '-1', text: title }),
    actions.length ? h('div', { class: 'actions' }, actions) : null,
  );
}

export function panel(title, ...children) {
  const id = nextId('p');
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': title ? id : null },
    title ? h('h2', { id, text: title }) : null,
    children,
  );
}

export function errorBox(e) {
  return h('p', { class: 'form-error', role: 'alert', text: e instanceof Error ? e.message : String(e) });
}

export function notice(text) {
  return h('p', { class: 'notice', role: 'note', text });
}

/**
 * A table. columns: [{label, cell: row => node|text, num: bool}]. On phones each row becomes a card whose cells
 * show their column's label (data-label).
 */
export function table(columns, rows, { caption, empty = 'Nothing here yet.', rowAttrs } = {}) {
  if (!rows.length) return h('p', { class: 'muted', text: empty });
  // A column may be left out with null (one the server cannot fill).
  columns = columns.filter(Boolean);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'responsive' },
      caption ? h('caption', { class: 'muted small', text: caption }) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null, text: c.label })))),
      h(
        'tbody',
        {},
        rows.map((r) =>
          h(
            'tr',
            rowAttrs ? rowAttrs(r) : {},
            columns.map((c) => h('td', { class: c.num ? 'num' : null, 'data-label': c.label }, c.cell(r))),
          ),
        ),
      ),
    ),
  );
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind || ''}`, text });
}

export function statusBadge(status) {
  const kind =
    {
      active: 'good',
      sent: 'good',
      delivered: 'good',
      subscribed: 'good',
      opened: 'accent',
      clicked: 'accent',
      converted: 'accent',
      scheduled: 'accent',
      sending: 'accent',
      paused: 'warn',
      draft: 'warn',
      queued: 'warn',
      deferred: 'warn',
      skipped: 'warn',
      never_subscribed: '',
      unsubscribed: 'bad',
      failed: 'bad',
      bounced: 'bad',
      complained: 'bad',
      cancelled: 'bad',
    }[status] ?? '';
  return badge(String(status ?? '—').replaceAll('_', ' '), kind);
}

export function kv(pairs) {
  return h(
    'dl',
    { class: 'kv' },
    pairs.filter(Boolean).map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v === null || v === undefined || v === '' ? '—' : v)]),
  );
}

export function toast(text, bad = false) {
  const box = document.getElementById('toast');
  if (!box) return;
  const item = h('div', { class: bad ? 'bad' : '', text });
  box.replaceChildren(item);
  setTimeout(() => item.remove(), 4000);
}

/**
 * A preview frame's document setter: one load at a time. A srcdoc set while the previous one still loads can be
 * lost (Chromium kept the first), and typing fast would reload the frame per keystroke; the latest document waits
 * for the load event. Unchanged documents are not loaded again.
 */
export function frameWriter(frame) {
  let loading = false;
  let waiting = null;
  const show = (doc) => {
    if (loading) {
      waiting = doc;
      return;
    }
    if (frame.srcdoc === doc) return;
    loading = true;
    frame.srcdoc = doc;
  };
  frame.addEventListener('load', () => {
    loading = false;
    const next = waiting;
    waiting = null;
    if (next !== null) show(next);
  });
  return show;
}

export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

/** Runs an async action from a button: disabled meanwhile; errors go to `errors` (an element) or a toast. */
export async function busy(button, action, errors) {
  if (button) button.disabled = true;
  const scope = errors?.closest('form, dialog, section') || button?.closest('form, dialog, section');
  if (errors) errors.replaceChildren();
  for (const el of scope?.querySelectorAll('[aria-invalid="true"]') || []) el.removeAttribute('aria-invalid');
  try {
    return await action();
  } catch (e) {
    const control = e?.field ? fieldControl(scope, e.field) : null;
    const box = errorBox(control ? Object.assign(new Error(`${controlLabel(control)}: ${e.message}`), { field: e.field }) : e);
    if (errors) errors.replaceChildren(box);
    else toast(box.textContent, true);
    if (control) {
      // The refused field is marked and focused, its message tied to it for screen readers.
      box.id = nextId('err');
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-errormessage', box.id);
      control.focus();
    }
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** The control of `scope` a server error's `field` names: by name ("schedule.at"), then by its last part ("at"). */
function fieldControl(scope, field) {
  if (!scope) return null;
  const parts = String(field).split(/[.[\]]+/).filter(Boolean);
  for (const name of [field, parts[parts.length - 1], parts[0]]) {
    if (!name) continue;
    const el = scope.querySelector(`[name="${CSS.escape(name)}"]`);
    if (el && !el.hidden && el.type !== 'hidden') return el;
  }
  return null;
}

/** The words a control is labelled with. */
function controlLabel(control) {
  const label = control.id ? document.querySelector(`label[for="${CSS.escape(control.id)}"]`) : control.closest('label');
  return (label?.textContent || control.name || 'This field').trim();
}

// Formatting -------------------------------------------------------------------------------------------------

let settingsPromise = null;
/** The workspace settings (currency, store name), loaded once per page load. */
export function workspaceSettings(refresh = false) {
  if (refresh || !settingsPromise) settingsPromise = api('/settings').catch(() => ({}));
  return settingsPromise;
}

export function num(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function money(n, currency = 'USD') {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  try {
    return Number(n).toLocaleString('en-US', { style: 'currency', currency, maximumFractionDigits: 2 });
  } catch {
    return `${num(n, 2)} ${currency}`;
  }
}

/** "1 contact", "2 contacts". */
export function plural(n, word) {
  return `${num(n)} ${word}${Number(n) === 1 ? '' : 's'}`;
}

/** A rate given as a fraction (0.042) or already as a percentage (4.2). */
export function pct(x) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return '—';
  const v = Math.abs(x) <= 1 ? x * 100 : x;
  return `${num(v, 1)}%`;
}

// Times and dates in the browser's own language and conventions (its locale).
const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const df = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
export function dateTime(iso) {
  if (!iso) return '—';
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? String(iso) : dtf.format(t);
}
export function date(iso) {
  if (!iso) return '—';
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? String(iso) : df.format(t);
}

/** dateTime() as a <time> element (its machine-readable value in `datetime`). */
export function localTime(iso) {
  return iso ? h('time', { datetime: iso, text: dateTime(iso) }) : '—';
}

/** The store platforms' names. */
export const PLATFORM_NAMES = { shopify: 'Shopify', woocommerce: 'WooCommerce', magento: 'Magento' };

/** A contact's display name ("Erased person" once their data was erased). */
export function contactName(c) {
  if (c?.erased_at) return 'Erased person';
  const t = c?.traits || {};
  const full = [t.first_name || t.firstName, t.last_name || t.lastName].filter(Boolean).join(' ');
  return full || t.name || c?.email || c?.user_id || c?.phone || `Contact ${c?.id ?? ''}`.trim();
}

/** Short text of a JSON value. */
export function brief(v, max = 80) {
  let t = typeof v === 'string' ? v : JSON.stringify(v);
  if (t === undefined) t = '';
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

/** A "Load more" button that appends pages to `into` until next_cursor runs out. */
export function pager(loadPage, renderItems, into, firstCursor) {
  const btn = h('button', { type: 'button', class: 'secondary', text: 'Load more' });
  const wrap = h('p', {}, btn);
  let cursor = firstCursor;
  btn.addEventListener('click', () =>
    busy(btn, async () => {
      const page = await loadPage(cursor);
      into.append(...renderItems(page.items || []));
      cursor = page.next_cursor;
      if (!cursor) wrap.remove();
    }),
  );
  if (!cursor) wrap.hidden = true;
  return wrap;
}

/**
 * A modal confirmation (focus stays inside, Escape cancels): `title`, `body` (nodes or text), the confirm button's
 * words, and the action it runs (its errors are shown in the dialog). Resolves true once confirmed and done, false
 * when cancelled.
 */
export function confirmDialog({ title, body = [], confirmText, cancelText = 'Cancel', danger = false, action, opener }) {
  return new Promise((resolve) => {
    const titleId = nextId('dlg');
    const confirm = h('button', { type: 'button', class: danger ? 'danger-solid' : '', text: confirmText });
    const cancel = h('button', { type: 'button', class: 'secondary', text: cancelText });
    const errors = h('div', { 'aria-live': 'polite' });
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId, text: title }),
      ...[].concat(body).map((b) => (typeof b === 'string' ? h('p', { text: b }) : b)),
      errors,
      h('div', { class: 'actions' }, confirm, cancel),
    );
    let done = false;
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener?.isConnected) opener.focus();
      resolve(done);
    });
    confirm.addEventListener('click', () =>
      busy(
        confirm,
        async () => {
          await action();
          done = true;
          dialog.close();
        },
        errors,
      ),
    );
    document.body.append(dialog);
    dialog.showModal();
    confirm.focus();
  });
}

/** An instant in a given time zone, in the browser's language: "Tuesday, 2 December 2026 at 10:00 (Europe/Paris)". */
export function dateTimeIn(iso, timeZone) {
  if (!iso) return '—';
  try {
    const f = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short', timeZone });
    return `${f.format(new Date(iso))} (${timeZone})`;
  } catch {
    return dateTime(iso);
  }
}
