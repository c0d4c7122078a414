// Import: upload a CSV file of contacts, orders or products. Kairos first shows how the file's columns map (from
// its first 64 KB), then imports the whole file streamed, and lists the rows it refused with their line, column
// and reason (the same import as `kairos import csv`).
import { api, h, pageHead, panel, field, select, table, busy, toast, plural, errorBox, CSRF } from '../lib.js';

const KINDS = [
  ['contacts', 'Contacts (with their consent)'],
  ['orders', 'Orders (one line item per row)'],
  ['products', 'Products'],
];
/** What the preview reads of the file: the server takes at most 64 KB. */
const PREVIEW_BYTES = 64 * 1024;

/** A mapping target in words. */
function target(mapsTo) {
  if (mapsTo.startsWith('trait ')) return `Profile field “${mapsTo.slice(6)}”`;
  if (mapsTo.startsWith('ignored')) return `Not imported ${mapsTo.slice(8)}`;
  return mapsTo.replaceAll('_', ' ').replace(/^./, (c) => c.toUpperCase());
}

/** The first part of the file, cut at its last complete line. */
async function head(file) {
  const text = await file.slice(0, PREVIEW_BYTES).text();
  if (file.size <= PREVIEW_BYTES) return text;
  const end = text.lastIndexOf('\n');
  return end > 0 ? text.slice(0, end + 1) : text;
}

function previewView(p) {
  const columns = table(
    [
      { label: 'Column in the file', cell: (c) => c.name || '(no header)' },
      { label: 'Imported as', cell: (c) => target(c.maps_to) },
    ],
    p.columns,
    { caption: 'How each column is read' },
  );
  const rows = table(
    [
      { label: 'Line', num: true, cell: (r) => String(r.line) },
      { label: 'Values', cell: (r) => Object.entries(r.fields).map(([k, v]) => `${target(k)}: ${v}`).join(' · ') || '—' },
      { label: 'Result', cell: (r) => (r.rejected ? h('span', { class: 'form-error', text: `Refused: ${r.rejected.column ? `${r.rejected.column}, ` : ''}${r.rejected.reason}` }) : 'Will be imported') },
    ],
    p.rows,
    { caption: 'The first rows, as Kairos reads them', empty: 'The file has no rows after its header.' },
  );
  return h('div', { 'data-testid': 'import-preview' }, columns, rows);
}

/** Uploads the file with XMLHttpRequest, which reports upload progress (fetch does not). */
function upload(file, kind, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/imports/csv?kind=${encodeURIComponent(kind)}`);
    xhr.setRequestHeader('X-CSRF-Token', CSRF);
    xhr.setRequestHeader('Content-Type', 'text/csv');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) {
        progress.max = e.total;
        progress.value = e.loaded;
      }
    };
    xhr.upload.onload = () => progress.removeAttribute('value'); // sent: the server is still importing
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status === 200) resolve(body);
      else reject(new Error(body?.error?.message || `The upload failed (HTTP ${xhr.status}).`));
    };
    xhr.onerror = () => reject(new Error('The server cannot be reached.'));
    xhr.send(file);
  });
}

function resultView(r) {
  const summary = `Imported ${plural(r.imported, 'row')}, refused ${plural(r.rejected, 'row')}.`;
  const again = r.already_stored ? ` ${plural(r.already_stored, 'record')} were already in Kairos (nothing stored twice).` : '';
  const shown = r.rejected > r.rejected_rows.length ? h('p', { class: 'muted small', text: `The first ${r.rejected_rows.length} refused rows:` }) : null;
  return h(
    'div',
    { 'data-testid': 'import-result' },
    h('p', { role: 'status', text: summary + again }),
    r.rejected ? shown : null,
    r.rejected
      ? table(
          [
            { label: 'Line', num: true, cell: (x) => String(x.line) },
            { label: 'Column', cell: (x) => x.column || 'the whole row' },
            { label: 'Reason', cell: (x) => x.reason },
          ],
          r.rejected_rows,
          { caption: 'Refused rows (the header is line 1)' },
        )
      : null,
  );
}

export async function render() {
  const kind = select(KINDS, 'contacts', { name: 'kind' });
  const file = h('input', { type: 'file', name: 'file', accept: '.csv,text/csv,text/plain' });
  const errors = h('div', { 'aria-live': 'polite' });
  const previewBox = h('div', { 'aria-live': 'polite' });
  const progress = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const go = h('button', { type: 'submit', text: 'Import the file', disabled: true });
  const resultBox = h('div', { 'aria-live': 'polite' });

  async function preview() {
    resultBox.replaceChildren();
    previewBox.replaceChildren();
    go.disabled = true;
    const f = file.files[0];
    if (!f) return;
    await busy(null, async () => {
      const p = await api('/imports/csv/preview', { method: 'POST', query: { kind: kind.value }, raw: await head(f) });
      previewBox.replaceChildren(previewView(p));
      go.disabled = false;
    }, errors);
  }
  kind.addEventListener('change', preview);
  file.addEventListener('change', preview);

  const form = h(
    'form',
    {},
    h('div', { class: 'grid two' }, field('What the file holds', kind), field('CSV file', file, 'UTF-8, separated by commas, semicolons or tabs; the first line names the columns.')),
    errors,
    previewBox,
    h('div', { class: 'actions' }, go, progress),
    resultBox,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = file.files[0];
    if (!f) return;
    progress.hidden = false;
    progress.value = 0;
    busy(go, async () => {
      try {
        const r = await upload(f, kind.value, progress);
        resultBox.replaceChildren(resultView(r));
        toast(`Imported ${plural(r.imported, 'row')}`);
      } catch (err) {
        resultBox.replaceChildren(errorBox(err));
      } finally {
        progress.hidden = true;
      }
    }, errors);
  });

  return h(
    'div',
    {},
    pageHead('Import'),
    panel(
      null,
      h('p', {}, 'Bring contacts, orders or products in from a spreadsheet or another platform’s export (Shopify’s and WooCommerce’s CSV exports are read as they are). Importing the same file again stores nothing twice; rows Kairos cannot read are listed with the reason, and nothing of them is stored.'),
    ),
    panel('Upload a CSV file', form),
  );
}
