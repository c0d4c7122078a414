// Settings: sending discipline (smart sending, quiet hours, caps), consent mode, flow defaults, the store,
// and where keys, channels and users are managed.
import { api, h, pageHead, panel, field, select, busy, toast, kv, workspaceSettings, WORKSPACE_ID } from '../lib.js';

function text(name, value, attrs = {}) {
  return h('input', { type: 'text', name, value: value ?? '', autocomplete: 'off', ...attrs });
}
function number(name, value, attrs = {}) {
  return h('input', { type: 'number', name, value: value ?? '', step: 'any', ...attrs });
}
const orNull = (v) => (v.trim() === '' || v.trim() === 'off' ? null : v.trim());
const numOrNull = (v) => (v.trim() === '' ? null : Number(v));

export async function render(ctx) {
  const st = await api('/settings');
  const c = {
    smart: text('smart_sending', st.smart_sending),
    quietEmail: text('quiet_hours_email', st.quiet_hours?.email, { placeholder: 'off' }),
    quietSms: text('quiet_hours_sms', st.quiet_hours?.sms, { placeholder: 'off' }),
    dailyEmail: number('daily_cap_email', st.daily_cap?.email, { min: 1, step: 1, placeholder: 'no cap' }),
    dailySms: number('daily_cap_sms', st.daily_cap?.sms, { min: 1, step: 1, placeholder: 'no cap' }),
    weeklyEmail: number('weekly_cap_email', st.weekly_cap?.email, { min: 1, step: 1, placeholder: 'no cap' }),
    weeklySms: number('weekly_cap_sms', st.weekly_cap?.sms, { min: 1, step: 1, placeholder: 'no cap' }),
    consent: select([['opt_in', 'Opt-in: marketing only to subscribed contacts'], ['opt_out', 'Opt-out: also to contacts who never chose']], st.consent_mode, { name: 'consent_mode' }),
    highValue: number('high_value_cart', st.high_value_cart, { min: 0 }),
    sendHour: number('default_send_hour', st.default_send_hour, { min: 0, max: 23, step: 1 }),
    timezone: text('timezone', st.timezone),
    attrEmail: text('attribution_email', st.attribution_window?.email),
    attrSms: text('attribution_sms', st.attribution_window?.sms),
    storeName: text('store_name', st.store?.name),
    currency: text('currency', st.store?.currency, { maxlength: 3, pattern: '[A-Za-z]{3}' }),
    url: h('input', { type: 'url', name: 'store_url', value: st.store?.url ?? '' }),
    freeShipping: number('free_shipping_threshold', st.store?.free_shipping_threshold, { min: 0, placeholder: 'none' }),
    trackedDomains: text('allowed_domains', (st.tracking?.allowed_domains ?? []).join(', '), { placeholder: 'none' }),
    smsFrom: text('sms_from', st.sms?.from, { placeholder: 'the server default' }),
  };
  const patch = () => ({
    smart_sending: orNull(c.smart.value),
    quiet_hours: { email: orNull(c.quietEmail.value), sms: orNull(c.quietSms.value) },
    daily_cap: { email: numOrNull(c.dailyEmail.value), sms: numOrNull(c.dailySms.value) },
    weekly_cap: { email: numOrNull(c.weeklyEmail.value), sms: numOrNull(c.weeklySms.value) },
    consent_mode: c.consent.value,
    high_value_cart: Number(c.highValue.value),
    default_send_hour: Number(c.sendHour.value),
    timezone: c.timezone.value.trim(),
    attribution_window: { email: c.attrEmail.value.trim(), sms: c.attrSms.value.trim() },
    store: { name: c.storeName.value.trim(), currency: c.currency.value.trim().toUpperCase(), url: c.url.value.trim(), free_shipping_threshold: numOrNull(c.freeShipping.value) },
    tracking: { allowed_domains: c.trackedDomains.value.split(/[\s,]+/).filter((d) => d !== '') },
    // Sent only when changed, so the server's default sender keeps applying to workspaces that never set one.
    ...(c.smsFrom.value.trim() === (st.sms?.from ?? '') ? {} : { sms: { from: orNull(c.smsFrom.value) } }),
  });
  const errors = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', text: 'Save settings' });
  const form = h(
    'form',
    {},
    h(
      'fieldset',
      {},
      h('legend', { text: 'Sending discipline' }),
      h(
        'div',
        { class: 'grid three' },
        field('Smart sending window', c.smart, 'No second marketing message on a channel within this time (16h); empty = off.'),
        field('Quiet hours, email', c.quietEmail, "In each contact's time zone, e.g. 21:00-09:00; empty = off."),
        field('Quiet hours, SMS', c.quietSms, 'e.g. 21:00-09:00; empty = off.'),
        field('Daily cap, email', c.dailyEmail),
        field('Daily cap, SMS', c.dailySms),
        field('Weekly cap, email', c.weeklyEmail),
        field('Weekly cap, SMS', c.weeklySms),
      ),
    ),
    h('fieldset', {}, h('legend', { text: 'Consent' }), field('Consent mode', c.consent)),
    h(
      'fieldset',
      {},
      h('legend', { text: 'Flows and attribution' }),
      h(
        'div',
        { class: 'grid three' },
        field('High-value cart', c.highValue, 'Abandoned carts above this go to a call task.'),
        field('Default send hour', c.sendHour, 'Local hour for best-hour sends when a contact has none.'),
        field('Default time zone', c.timezone, 'IANA name, e.g. Europe/Helsinki.'),
        field('Attribution window, email', c.attrEmail, 'e.g. 5d'),
        field('Attribution window, SMS', c.attrSms, 'e.g. 1d'),
      ),
    ),
    h(
      'fieldset',
      {},
      h('legend', { text: 'Store' }),
      h('div', { class: 'grid two' }, field('Store name', c.storeName), field('Currency', c.currency, 'ISO 4217 code, e.g. EUR.'), field('Store URL', c.url, "Links to this domain (and its subdomains) are click-tracked."), field('Free-shipping threshold', c.freeShipping)),
      h('div', { class: 'grid two' }, field('Other tracked domains', c.trackedDomains, 'Links to other hosts stay untracked, e.g. cdn.example.com, partner.example.'), field('SMS sender', c.smsFrom, 'The number your texts come from; STOP and START sent to it apply to this workspace.')),
    ),
    errors,
    save,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(
      save,
      async () => {
        await api('/settings', { method: 'PUT', body: patch() });
        await workspaceSettings(true);
        toast('Settings saved');
        ctx.navigate('/ui/settings', { replace: true });
      },
      errors,
    );
  });
  const code = (t) => h('code', { text: t });
  return h(
    'div',
    {},
    pageHead('Settings'),
    panel('Workspace settings', form),
    h(
      'div',
      { class: 'grid two' },
      panel(
        'API keys',
        kv([['Workspace id', code(WORKSPACE_ID)]]),
        h('p', {}, 'The ', h('strong', { text: 'write key' }), ' is public: put it in your storefront; it may only send events to ', code('/v1/track'), ', ', code('/v1/identify'), ' and ', code('/v1/batch'), '.'),
        h('p', {}, 'The ', h('strong', { text: 'secret key' }), ' is for your servers: it reads and changes everything through ', code('/api/v1'), '. Keys are stored only as hashes, so they are shown once, by ', code('kairos workspace create'), ', and cannot be displayed here.'),
      ),
      panel(
        'Channels and users',
        h('p', {}, 'Email (SMTP or capture, DKIM, tracking links) and the SMS provider are configured in ', code('kairos.toml'), ' in the data directory; messages captured instead of sent are in the ', h('a', { href: '/ui/outbox', text: 'outbox' }), '.'),
        h('p', {}, 'Add a login for a colleague with ', code(`kairos user create --workspace ${WORKSPACE_ID} --email EMAIL --password PASSWORD`), '.'),
      ),
      panel(
        'Topics and preferences',
        h('p', {}, 'The lists subscribers can leave one by one, and what the preference page shows: ', h('a', { href: '/ui/topics', text: 'Topics' }), '.'),
      ),
      panel(
        'Privacy',
        h('p', {}, 'Exports and erasures of people’s data, and your store platform’s privacy requests, are listed under ', h('a', { href: '/ui/privacy', text: 'Privacy requests and audit log' }), '. To export or erase a person, open their profile.'),
      ),
    ),
  );
}
