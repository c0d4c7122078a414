// Flows: the list, the library of ready-made flows, and a canvas of a flow's steps with each step's numbers,
// where a step's timing or template can be edited and the flow activated or paused.
import { api, apiOptional, h, s, pageHead, panel, table, num, money, dateTime, statusBadge, badge, field, select, busy, toast, kv, nextId, workspaceSettings, confirmDialog } from '../lib.js';
import { lastDays, performancePanel, numbersTable } from './performance.js';
import { describeStep, reentry, condition, templateName } from './words.js';

/** A run key ("event.order_id") in words ("order of the trigger event"). */
function keyWords(key) {
  const last = String(key).split('.').pop().replace(/_id$/, '').replaceAll('_', ' ');
  return `${last} (${key})`;
}

/** The period the flow's performance covers. */
const REPORT_DAYS = 90;
const CHANNEL_WORDS = { email: 'Email', sms: 'SMS', chat: 'Chat message' };

const BOX_W = 210;
const BOX_H = 116;
const GAP_X = 36;
const GAP_Y = 54;
const PAD = 20;

/** The outgoing edges of a step: [label, target id]. */
function edges(step) {
  const out = [];
  if (step.next) out.push(['', step.next]);
  if (step.yes) out.push(['yes', step.yes]);
  if (step.no) out.push(['no', step.no]);
  if (step.timeout_next) out.push(['timeout', step.timeout_next]);
  if (step.fallback_next) out.push(['no coupon', step.fallback_next]);
  (step.variants || []).forEach((v, i) => v.next && out.push([v.name || v.id || `variant ${i + 1}`, v.next]));
  return out;
}

/**
 * The trigger in words; `names.segments` maps segment ids to names, `names.conditions` condition texts to
 * sentences (from POST /segments/describe).
 */
function describeTrigger(t = {}, names = {}) {
  const seg = (ref) => `“${names.segments?.[ref] || ref}”`;
  switch (t.type) {
    case 'event': {
      const events = t.events ? `the first of ${t.events.map((e) => `“${e}”`).join(', ')}` : `“${t.event}”`;
      const where = t.where ? names.conditions?.[triggerCondition(t)]?.replace(/^People who did “[^”]*” /, '') || `where ${condition(t.where)}` : '';
      return `When someone does ${events}${where ? ` ${where}` : ''}`;
    }
    case 'segment_entered':
      return `When someone enters the segment ${seg(t.segment)}`;
    case 'segment_exited':
      return `When someone leaves the segment ${seg(t.segment)}`;
    case 'date':
      return `${t.days_before ? `${t.days_before} days before` : 'On'} each person's ${String(t.trait || 'date').replaceAll('_', ' ')}`;
    case 'back_in_stock':
      return 'When a product someone wanted is back in stock';
    case 'price_drop':
      return `When a product someone viewed drops in price${t.min_percent ? ` by at least ${t.min_percent}%` : ''}`;
    case 'api':
      return 'When your system starts it through the API';
    default:
      return t.type || '—';
  }
}

/** The trigger's event filter as a `did` condition, so the server can say it in words. */
function triggerCondition(t) {
  const event = t.event || t.events?.[0] || 'event';
  return `did "${event.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}" where ${t.where}`;
}

/** Every condition of a flow in words, keyed by its text; {} when they cannot be said (the page falls back). */
async function conditionWords(def) {
  const texts = [def.entry?.filter, def.exit_when, def.trigger?.where ? triggerCondition(def.trigger) : null, ...(def.steps || []).map((st) => st.condition)].filter(
    (c) => typeof c === 'string' && c.trim(),
  );
  if (!texts.length) return {};
  try {
    const r = await api('/segments/describe', { method: 'POST', body: { definitions: texts } });
    return Object.fromEntries(texts.map((t, i) => [t, r.items?.[i]?.description]).filter(([, d]) => d));
  } catch {
    return {};
  }
}

/** Lays the steps out in rows by distance from the start (breadth first); unreachable steps go last. */
function layout(def) {
  const steps = def.steps || [];
  const byId = new Map(steps.map((st) => [st.id, st]));
  const start = def.start || steps[0]?.id;
  const depth = new Map();
  const order = [];
  const queue = start && byId.has(start) ? [start] : [];
  if (queue.length) depth.set(start, 1);
  while (queue.length) {
    const id = queue.shift();
    order.push(id);
    for (const [, to] of edges(byId.get(id))) {
      if (byId.has(to) && !depth.has(to)) {
        depth.set(to, depth.get(id) + 1);
        queue.push(to);
      }
    }
  }
  let last = Math.max(1, ...depth.values());
  for (const st of steps) {
    if (!depth.has(st.id)) {
      last += 1;
      depth.set(st.id, last);
      order.push(st.id);
    }
  }
  const rows = new Map();
  for (const id of order) {
    const d = depth.get(id);
    if (!rows.has(d)) rows.set(d, []);
    rows.get(d).push(id);
  }
  const widest = Math.max(1, ...[...rows.values()].map((r) => r.length));
  const width = PAD * 2 + widest * BOX_W + (widest - 1) * GAP_X;
  const pos = new Map();
  pos.set('$trigger', { x: (width - BOX_W) / 2, y: PAD });
  for (const [d, ids] of rows) {
    const rowW = ids.length * BOX_W + (ids.length - 1) * GAP_X;
    ids.forEach((id, i) => pos.set(id, { x: (width - rowW) / 2 + i * (BOX_W + GAP_X), y: PAD + d * (BOX_H + GAP_Y) }));
  }
  const height = PAD * 2 + (Math.max(...depth.values(), 0) + 1) * (BOX_H + GAP_Y) - GAP_Y;
  return { order, pos, width, height, byId, start };
}

function stepNumbers(stats) {
  return Object.entries(stats || {})
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => badge(`${k.replaceAll('_', ' ')} ${num(v)}`, k === 'sent' ? 'good' : k === 'converted' ? 'accent' : ''));
}

/** The canvas: boxes (buttons, in reading order) with arrows drawn underneath in SVG. */
function canvas(flow, stats, onSelect, names = {}) {
  const def = flow.definition || {};
  const { order, pos, width, height, byId, start } = layout(def);
  const svg = s('svg', { class: 'edges', width, height, viewBox: `0 0 ${width} ${height}`, 'aria-hidden': 'true' });
  const markerId = nextId('arrow');
  svg.append(s('defs', {}, s('marker', { id: markerId, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0L10,5L0,10z', fill: '#8d91b3' }))));
  const line = (from, to, label) => {
    const a = pos.get(from);
    const b = pos.get(to);
    if (!a || !b) return;
    const x1 = a.x + BOX_W / 2;
    const y1 = a.y + BOX_H;
    const x2 = b.x + BOX_W / 2;
    const y2 = b.y;
    let d;
    if (y2 > y1) {
      const my = (y1 + y2) / 2;
      d = `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2 - 2}`;
    } else {
      // A loop back up: around the right side of the boxes.
      const side = Math.max(a.x, b.x) + BOX_W + GAP_X / 2;
      d = `M${a.x + BOX_W},${a.y + BOX_H / 2} C${side},${a.y + BOX_H / 2} ${side},${b.y + BOX_H / 2} ${b.x + BOX_W + 2},${b.y + BOX_H / 2}`;
    }
    svg.append(s('path', { d, 'marker-end': `url(#${markerId})` }));
    if (label) svg.append(s('text', { x: (x1 + x2) / 2 + 6, y: (y1 + y2) / 2 - 4 }, label));
  };
  if (start) line('$trigger', start, '');
  for (const id of order) for (const [label, to] of edges(byId.get(id))) line(id, to, label);

  const board = h('div', { class: 'canvas', style: `width:${width}px;height:${height}px` }, svg);
  const trig = pos.get('$trigger');
  board.append(
    h(
      'div',
      { class: 'step trigger', style: `left:${trig.x}px;top:${trig.y}px;height:${BOX_H}px`, role: 'group', 'aria-label': 'Trigger' },
      h('div', { class: 'type', text: 'Trigger' }),
      h('div', { class: 'title', text: describeTrigger(def.trigger, names) }),
      h('div', { class: 'nums' }, badge(`entered ${num(stats.entered)}`, 'accent'), badge(`in progress ${num(stats.active)}`)),
    ),
  );
  const buttons = [];
  for (const id of order) {
    const st = byId.get(id);
    const p = pos.get(id);
    const b = h(
      'button',
      {
        type: 'button',
        class: `step t-${st.type}`,
        style: `left:${p.x}px;top:${p.y}px;height:${BOX_H}px`,
        'aria-pressed': 'false',
        'data-step': st.id,
        'aria-label': `${describeStep(st, names)}. ${Object.entries(stats.steps?.[st.id] || {})
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      },
      h('div', { class: 'type', text: st.type.replaceAll('_', ' ') }),
      h('div', { class: 'title', text: describeStep(st, names) }),
      h('div', { class: 'nums' }, stepNumbers(stats.steps?.[st.id])),
    );
    b.addEventListener('click', () => {
      for (const o of buttons) o.setAttribute('aria-pressed', String(o === b));
      onSelect(st);
    });
    buttons.push(b);
    board.append(b);
  }
  return h('div', { class: 'canvas-wrap', role: 'region', 'aria-label': 'Flow steps', tabindex: '0' }, board);
}

/** What saving a change to a live flow does to the people already in it, in words. */
function liveChange(flow, stats) {
  const n = Number(stats.active) || 0;
  const who = n === 0 ? 'Nobody is in this flow right now' : n === 1 ? '1 person is in this flow right now' : `${num(n)} people are in this flow right now`;
  return `${who}. Saving makes version ${Number(flow.version) + 1}: ${n ? 'they finish on the version they started (' + flow.version + '), ' : ''}people who enter from now on follow the change.`;
}

/** The editor of one step: timing for delays and waits, template for sends; saved as a new flow version. */
function stepEditor(flow, step, templates, ctx, stats = {}, pageNames = {}) {
  const names = { ...pageNames, templates: Object.fromEntries(templates.map((t) => [t.id, templateName(t)])) };
  const def = structuredClone(flow.definition);
  const target = def.steps.find((x) => x.id === step.id);
  const errors = h('div');
  const save = h('button', { type: 'submit', text: 'Save step' });
  const inputs = [];
  if (step.type === 'delay' && 'duration' in step) {
    const d = h('input', { type: 'text', value: step.duration, required: true, name: 'duration' });
    inputs.push(field('Wait for', d, 'A duration: 30m, 4h, 2d, 1w'));
    inputs.apply = () => (target.duration = d.value.trim());
  } else if (step.type === 'wait_for') {
    const t = h('input', { type: 'text', value: step.timeout || '', name: 'timeout' });
    inputs.push(field(`Wait for “${step.event}” at most`, t, 'A duration: 1d, 12h'));
    inputs.apply = () => (target.timeout = t.value.trim());
  } else if (step.type === 'send') {
    const choices = templates.filter((t) => !step.channel || t.channel === step.channel).map((t) => [t.id, templateName(t)]);
    if (!choices.some(([id]) => id === step.template)) choices.unshift([step.template, step.template]);
    const t = select(choices, step.template, { name: 'template' });
    inputs.push(field('Template', t));
    inputs.push(h('p', {}, h('a', { href: `/ui/templates/${encodeURIComponent(step.template)}`, text: `Edit the template “${names.templates[step.template] || step.template}”` })));
    inputs.apply = () => (target.template = t.value);
  }
  const headingId = nextId('step');
  const form = h(
    'form',
    { 'aria-labelledby': headingId },
    h('h2', { id: headingId, tabindex: '-1', text: describeStep(step, names) }),
    flow.status === 'active' && inputs.apply
      ? h('p', { class: 'notice', role: 'note', 'data-testid': 'live-change' }, liveChange(flow, stats))
      : null,
    inputs,
    errors,
    inputs.apply ? save : h('p', { class: 'muted small', text: 'This kind of step is edited in the flow definition (JSON) for now.' }),
    h('details', {}, h('summary', { text: 'Step definition' }), h('pre', { text: JSON.stringify(step, null, 2) })),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(
      save,
      async () => {
        inputs.apply();
        const f = await api(`/flows/${encodeURIComponent(flow.id)}`, { method: 'PUT', body: def });
        toast(`Saved: version ${f.version}`);
        ctx.navigate(`/ui/flows/${encodeURIComponent(flow.id)}?step=${encodeURIComponent(step.id)}`, { replace: true });
      },
      errors,
    );
  });
  return form;
}

/** Who the flow's marketing is for and how it ranks: its topic and its priority (0..100). */
function sendingForm(flow, topics, ctx) {
  const current = flow.definition.topic || '';
  const options = [['', 'None: everyone subscribed'], ...topics.map((t) => [t.id, t.name])];
  if (current && !topics.some((t) => t.id === current)) options.push([current, 'A topic that no longer exists']);
  const pick = select(options, current, { name: 'topic' });
  const explicit = flow.definition.priority !== undefined && flow.definition.priority !== null;
  const priority = h('input', { type: 'number', name: 'priority', min: '0', max: '100', step: '1', inputmode: 'numeric', value: explicit ? String(flow.definition.priority) : '', placeholder: String(flow.priority ?? 50) });
  const errors = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', class: 'secondary', text: 'Save sending settings' });
  const form = h(
    'form',
    { 'aria-label': 'Sending settings of this flow' },
    h(
      'div',
      { class: 'row' },
      field('Topic', pick, topics.length ? 'People who left this topic on their preference page are skipped.' : 'Add topics in Settings → Topics first.'),
      field('Priority', priority, `0 to 100; empty: ${flow.priority ?? 50} for this kind of flow. When smart sending or a cap must choose, the higher goes first (cart 80, browsing 60, other flows 50, campaigns 20).`),
    ),
    errors,
    save,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(
      save,
      async () => {
        const def = structuredClone(flow.definition);
        if (pick.value) def.topic = pick.value;
        else delete def.topic;
        if (priority.value.trim() === '') delete def.priority;
        else def.priority = Number(priority.value);
        const f = await api(`/flows/${encodeURIComponent(flow.id)}`, { method: 'PUT', body: def });
        toast(`Saved: version ${f.version}, priority ${f.priority}`);
        ctx.navigate(`/ui/flows/${encodeURIComponent(flow.id)}`, { replace: true });
      },
      errors,
    );
  });
  return form;
}

export async function list(ctx) {
  const [flows, library, report, settings] = await Promise.all([
    api('/flows'),
    api('/flows/library'),
    apiOptional('/reports/flows', { query: lastDays(REPORT_DAYS) }).catch(() => null),
    workspaceSettings().catch(() => ({})),
  ]);
  const items = flows.items || [];
  const stats = await Promise.all(items.map((f) => api(`/flows/${encodeURIComponent(f.id)}/stats`).catch(() => ({}))));
  const revenue = report ? Object.fromEntries((report.items || []).map((r) => [r.flow_id, r])) : null;
  const currency = settings?.store?.currency || 'USD';
  const rows = items.map((f, i) => ({ ...f, stats: stats[i], report: revenue?.[f.id] }));
  const installed = new Set(items.map((f) => f.name));
  const libraryName = (l) => l.flow_name || l.name;
  const cards = (library.items || []).map((l) => {
    const already = items.find((f) => installed.has(f.name) && libraryName(l) === f.name);
    const btn = h('button', { type: 'button', class: already ? 'secondary' : '', text: already ? 'Install a copy…' : 'Install', 'aria-label': already ? `Install a copy of ${l.name}` : `Install ${l.name}`, 'data-library': l.key });
    const install = (copy) => async () => {
      const f = await api(`/flows/library/${encodeURIComponent(l.key)}/install`, { method: 'POST', body: copy ? { copy: true } : undefined });
      toast(`Installed “${f.name}” as a draft`);
      ctx.navigate(`/ui/flows/${encodeURIComponent(f.id)}`);
    };
    btn.addEventListener('click', () => {
      if (!already) return busy(btn, install(false));
      return confirmDialog({
        title: `Install “${l.name}” again?`,
        body: [`You already have “${already.name}” (${already.status}). A copy is a second, separate flow: if both are active, people can enter both and get both series of messages.`],
        confirmText: 'Install a copy',
        opener: btn,
        action: install(true),
      });
    });
    return h('div', { class: 'card' }, h('h3', { text: l.name }), h('p', { text: l.description }), already ? h('span', { class: 'small muted' }, 'Installed: ', h('a', { href: `/ui/flows/${encodeURIComponent(already.id)}`, text: already.name })) : null, h('div', {}, btn));
  });
  return h(
    'div',
    {},
    pageHead('Flows'),
    panel(
      'Your flows',
      table(
        [
          { label: 'Flow', cell: (f) => h('a', { href: `/ui/flows/${encodeURIComponent(f.id)}`, text: f.name }) },
          { label: 'Status', cell: (f) => statusBadge(f.status) },
          { label: 'Entered', num: true, cell: (f) => num(f.stats.entered) },
          { label: 'In progress', num: true, cell: (f) => num(f.stats.active) },
          { label: 'Reached the goal', num: true, cell: (f) => num(f.stats.converted) },
          revenue ? { label: `Revenue, ${REPORT_DAYS} days`, num: true, cell: (f) => money(f.report?.revenue || 0, currency) } : null,
          { label: 'Version', num: true, cell: (f) => num(f.version) },
          { label: 'Updated', cell: (f) => dateTime(f.updated_at) },
        ],
        rows,
        { empty: 'No flows yet: install one from the library below.' },
      ),
    ),
    panel('Flow library', h('div', { class: 'library' }, cards)),
  );
}

export async function detail(ctx) {
  const id = ctx.params[0];
  const [flow, stats, templates, settings, report, pools, segments] = await Promise.all([
    api(`/flows/${encodeURIComponent(id)}`),
    api(`/flows/${encodeURIComponent(id)}/stats`).catch(() => ({})),
    api('/templates').catch(() => ({ items: [] })),
    workspaceSettings(true).catch(() => ({})),
    apiOptional(`/reports/flows/${encodeURIComponent(id)}`, { query: lastDays(REPORT_DAYS) }).catch(() => null),
    apiOptional('/coupons').catch(() => null),
    api('/segments').catch(() => ({ items: [] })),
  ]);
  const conditions = await conditionWords(flow.definition || {});
  const segmentNames = Object.fromEntries((segments.items || []).map((x) => [x.id, x.name]));
  const poolNames = Object.fromEntries((pools?.items || []).map((p) => [p.id, p.name || p.id]));
  const currency = settings?.store?.currency || 'USD';
  const tplName = Object.fromEntries((templates.items || []).map((t) => [t.id, templateName(t)]));
  const stepRows = (flow.definition?.steps || [])
    .filter((st) => st.type === 'send')
    .map((st) => ({ name: `${CHANNEL_WORDS[st.channel] || st.channel} “${tplName[st.template] || st.template}”`, numbers: report?.steps?.[st.id] }));
  const def = flow.definition || {};
  const errors = h('div');
  const toggle = h('button', {
    type: 'button',
    class: flow.status === 'active' ? 'secondary' : '',
    text: flow.status === 'active' ? 'Pause flow' : 'Activate flow',
    'data-action': flow.status === 'active' ? 'pause' : 'activate',
  });
  const flip = async () => {
    const action = flow.status === 'active' ? 'pause' : 'activate';
    const f = await api(`/flows/${encodeURIComponent(flow.id)}/${action}`, { method: 'POST' });
    toast(f.status === 'active' ? 'The flow is active' : 'The flow is paused');
    ctx.navigate(`/ui/flows/${encodeURIComponent(flow.id)}`, { replace: true });
  };
  toggle.addEventListener('click', () =>
    busy(
      toggle,
      async () => {
        // Before activating: other active flows that start on the same trigger, and how many people that is.
        const o = flow.status === 'active' ? null : await apiOptional(`/flows/${encodeURIComponent(flow.id)}/overlaps`).catch(() => null);
        if (!o?.overlaps?.length) return flip();
        return confirmDialog({
          title: `Activate “${flow.name}”?`,
          body: [
            h('p', { text: 'Other active flows start on the same trigger: people can enter both and get both series of messages.' }),
            h(
              'ul',
              { 'data-testid': 'overlaps' },
              o.overlaps.map((x) => h('li', {}, h('a', { href: `/ui/flows/${encodeURIComponent(x.flow_id)}`, text: x.name }), ` also starts on ${x.shared.join(', ')}${x.people == null ? '' : `: ${num(x.people)} ${x.people === 1 ? 'person' : 'people'} in the last 30 days`}.`)),
            ),
          ],
          confirmText: 'Activate anyway',
          opener: toggle,
          action: flip,
        });
      },
      errors,
    ),
  );
  const editorSlot = h('div', { class: 'panel', hidden: true });
  const choose = (step) => {
    editorSlot.hidden = false;
    editorSlot.replaceChildren(stepEditor(flow, step, templates.items || [], ctx, stats, names));
    editorSlot.querySelector('h2')?.focus();
  };
  const names = { templates: tplName, pools: poolNames, segments: segmentNames, conditions };
  const board = canvas(flow, stats, choose, names);
  const exited = Object.values(stats.exited || {}).reduce((a, v) => a + (Number(v) || 0), 0);
  const view = h(
    'div',
    {},
    pageHead(flow.name, h('span', { 'data-testid': 'flow-status' }, statusBadge(flow.status)), toggle, h('a', { href: '/ui/flows', class: 'button secondary', text: 'All flows' })),
    errors,
    h(
      'div',
      { class: 'cards' },
      [
        ['Entered', stats.entered],
        ['In progress', stats.active],
        ['Exited', exited],
        ['Reached the goal', stats.converted],
      ].map(([k, v]) => h('div', { class: 'card' }, h('div', { class: 'label', text: k }), h('div', { class: 'value', text: num(v) }))),
    ),
    panel(
      'About this flow',
      kv([
        ['Trigger', describeTrigger(def.trigger, names)],
        ['Who may enter', def.entry?.filter ? conditions[def.entry.filter] || `People for whom ${condition(def.entry.filter)}` : 'Everyone the trigger concerns'],
        ['Re-entry', reentry(def.entry?.reentry)],
        ['One run per', def.key ? keyWords(def.key) : 'person'],
        ['Who leaves early', def.exit_when ? conditions[def.exit_when] || condition(def.exit_when) : 'No one: every run goes to its end'],
        ['Version', String(flow.version)],
        ['Updated', dateTime(flow.updated_at)],
      ]),
      sendingForm(flow, settings.topics || [], ctx),
    ),
    panel('Steps', h('p', { class: 'muted small', text: 'Select a step to see its numbers and change its timing or template.' }), board),
    report ? performancePanel(report, currency, 'this flow', REPORT_DAYS) : null,
    report ? panel(`Each message, last ${REPORT_DAYS} days`, numbersTable(stepRows, currency, 'Message')) : null,
    editorSlot,
    h('details', { class: 'panel' }, h('summary', { text: 'Flow definition (JSON)' }), h('pre', { text: JSON.stringify(def, null, 2) })),
  );
  const wanted = ctx.query.get('step');
  if (wanted) {
    const st = (def.steps || []).find((x) => x.id === wanted);
    if (st) {
      editorSlot.hidden = false;
      editorSlot.replaceChildren(stepEditor(flow, st, templates.items || [], ctx, stats));
      board.querySelector(`[data-step="${CSS.escape(wanted)}"]`)?.setAttribute('aria-pressed', 'true');
    }
  }
  return view;
}

