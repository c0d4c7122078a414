// Tasks: what flows ask the team to do ("call this customer", "check this complaint"), with the customer and the
// flow by name; each is assigned to one of the workspace's users and closed when done. Where the team hears of new
// tasks (an email address, a webhook) is set here too.
import { api, h, pageHead, panel, table, field, select, busy, toast, dateTime, statusBadge } from '../lib.js';

const FILTERS = [['open', 'Open'], ['done', 'Done'], ['', 'All']];

function taskRow(t, users, ctx) {
  const who = select([['', 'Nobody yet'], ...users.map((u) => [u.email, u.email])], t.assignee || '', { 'aria-label': `Assigned to, for: ${t.message}` });
  const errors = h('span', { 'aria-live': 'polite' });
  who.addEventListener('change', () =>
    busy(
      who,
      async () => {
        await api(`/tasks/${t.id}`, { method: 'PATCH', body: { assignee: who.value || null } });
        toast(who.value ? `Assigned to ${who.value}` : 'Unassigned');
      },
      errors,
    ),
  );
  const open = t.status === 'open';
  const toggle = h('button', { type: 'button', class: open ? '' : 'secondary', text: open ? 'Mark done' : 'Reopen', 'aria-label': `${open ? 'Mark done' : 'Reopen'}: ${t.message}` });
  toggle.addEventListener('click', () =>
    busy(
      toggle,
      async () => {
        await api(`/tasks/${t.id}`, { method: 'PATCH', body: { status: open ? 'done' : 'open' } });
        toast(open ? 'Done' : 'Reopened');
        ctx.navigate(`/ui/tasks${ctx.query.toString() ? `?${ctx.query}` : ''}`, { replace: true });
      },
      errors,
    ),
  );
  return { ...t, who, toggle, errors };
}

/** Where the team hears of new tasks (`settings.tasks`). */
function notifyForm(settings) {
  const n = settings.tasks || {};
  const email = h('input', { type: 'email', name: 'notify_email', value: n.notify_email || '', autocomplete: 'off', placeholder: 'team@shop.example' });
  const hook = h('input', { type: 'url', name: 'webhook_url', value: n.webhook_url || '', autocomplete: 'off', placeholder: 'https://hooks.example.com/kairos' });
  const errors = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', class: 'secondary', text: 'Save notifications' });
  const form = h(
    'form',
    { 'aria-label': 'Task notifications' },
    h('div', { class: 'grid two' }, field('Email the team at', email, 'Each new task, with the customer and a link to their profile. Empty: no email.'), field('Post to a webhook', hook, 'A signed POST (X-Kairos-Signature) of each new task: Slack workflows, Zapier, your own system. Empty: none.')),
    errors,
    save,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(
      save,
      async () => {
        await api('/settings', { method: 'PUT', body: { tasks: { notify_email: email.value.trim() || null, webhook_url: hook.value.trim() || null } } });
        toast('Task notifications saved');
      },
      errors,
    );
  });
  return form;
}

export async function render(ctx) {
  const status = ctx.query.has('status') ? ctx.query.get('status') : 'open';
  const [tasks, users, settings] = await Promise.all([
    api('/tasks', { query: status ? { status } : {} }),
    api('/users').catch(() => ({ items: [] })),
    api('/settings').catch(() => ({})),
  ]);
  const filter = select(FILTERS, status, { name: 'status' });
  filter.addEventListener('change', () => ctx.navigate(`/ui/tasks?status=${encodeURIComponent(filter.value)}`));
  const rows = (tasks.items || []).map((t) => taskRow(t, users.items || [], ctx));
  const empty = status === 'open' ? 'No open tasks. Flows open them with a task step (call this customer, check this complaint).' : 'No tasks here.';
  return h(
    'div',
    {},
    pageHead('Tasks'),
    panel(
      null,
      h('div', { class: 'row' }, field('Show', filter)),
      table(
        [
          { label: 'Task', cell: (t) => h('span', { text: t.message }) },
          { label: 'Customer', cell: (t) => h('a', { href: `/ui/contacts/${encodeURIComponent(t.contact_id)}`, text: t.contact_name || t.contact_email || 'A person no longer on file' }) },
          { label: 'From flow', cell: (t) => (t.flow_name ? h('a', { href: `/ui/flows/${encodeURIComponent(t.flow_id)}`, text: t.flow_name }) : 'A deleted flow') },
          { label: 'Opened', cell: (t) => dateTime(t.created_at) },
          { label: 'Assigned to', cell: (t) => t.who },
          { label: 'Status', cell: (t) => h('span', {}, statusBadge(t.status), t.closed_at ? h('span', { class: 'muted small', text: ` ${dateTime(t.closed_at)}` }) : null) },
          { label: 'Action', cell: (t) => h('span', {}, t.toggle, t.errors) },
        ],
        rows,
        { empty },
      ),
      (users.items || []).length ? null : h('p', { class: 'muted small', text: 'Tasks are assigned to the people who log in here: add them with kairos user create.' }),
    ),
    panel('Tell the team', notifyForm(settings)),
  );
}
