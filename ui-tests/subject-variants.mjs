// A subject line test in one email template in Chromium (issue 16, item 3): the editor gets a preview text and a
// variant (subject and preview text), saves, and after a reload they are there; the preview shows the variant
// chosen; a flow sends the template to a few people, one opens it, and the template page shows each subject
// line's numbers with the lead in words; one line is sent to everyone; the templates list badges the test. At
// 1440×900 and 390×844.
export async function subjectVariantsSteps({ page, step, expect, admin, ingest, BASE, shot, fits }) {
  const PEOPLE = ['ui-sv-1', 'ui-sv-2', 'ui-sv-3', 'ui-sv-4', 'ui-sv-5', 'ui-sv-6'];
  const frameText = () => page.frameLocator('iframe').first().locator('body').innerText();

  await step('subject lines: a preview text and a variant are added, saved and there after a reload', async () => {
    await admin('POST', '/templates', { id: 'ui-subjects', name: 'Weekend sale', channel: 'email', subject: 'Our weekend sale starts now', html: '<html><body><p>Hi {{ contact.first_name }}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>' });
    await ingest('identify', { userId: PEOPLE[0], traits: { email: `${PEOPLE[0]}@example.com`, first_name: 'Sven' } });
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(`${BASE}/ui/templates/ui-subjects`);
    await page.getByRole('heading', { level: 1, name: 'Weekend sale' }).waitFor();
    await page.getByLabel('Preview text (Liquid, optional)').fill('Up to 30% off, {{ contact.first_name }}');
    await page.getByRole('button', { name: 'Add a subject line variant' }).click();
    const b = page.getByRole('group', { name: 'Subject line B' });
    expect(await b.getByLabel('Subject B (Liquid)').evaluate((e) => e === document.activeElement), 'the new subject gets the focus');
    await b.getByLabel('Subject B (Liquid)').fill('{{ contact.first_name }}, 30% off ends Sunday');
    await b.getByLabel('Preview text B (optional)').fill('Only this weekend');
    // A second one, removed again.
    await page.getByRole('button', { name: 'Add a subject line variant' }).click();
    await page.getByRole('button', { name: 'Remove subject line C' }).click();
    expect((await page.getByRole('group', { name: /^Subject line [B-E]$/ }).count()) === 1, 'one variant left');
    // The preview shows the subject line chosen.
    await page.getByLabel('Preview for contact (email, user id or contact id)').fill(`${PEOPLE[0]}@example.com`);
    await page.getByLabel('Subject line to preview').selectOption('B');
    const headers = page.locator('.message-view .headers').first();
    await headers.getByText('Sven, 30% off ends Sunday (subject line B of a test)').waitFor();
    await headers.getByText('Preview text: Only this weekend').waitFor();
    expect(!(await frameText()).includes('Only this weekend'), 'the preview text is hidden in the email');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#toast').getByText('Saved version 2').waitFor();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Weekend sale' }).waitFor();
    expect((await page.getByLabel('Preview text (Liquid, optional)').inputValue()) === 'Up to 30% off, {{ contact.first_name }}', 'the preview text is kept');
    const again = page.getByRole('group', { name: 'Subject line B' });
    expect((await again.getByLabel('Subject B (Liquid)').inputValue()) === '{{ contact.first_name }}, 30% off ends Sunday', 'the variant is kept');
    expect((await again.getByLabel('Preview text B (optional)').inputValue()) === 'Only this weekend', 'its preview text is kept');
    const t = await admin('GET', '/templates/ui-subjects');
    expect(t.variants.length === 1 && t.preview_text.startsWith('Up to 30%'), JSON.stringify(t));
  });

  await step('subject lines: a bad variant is refused and its field marked', async () => {
    const b = page.getByRole('group', { name: 'Subject line B' });
    await b.getByLabel('Subject B (Liquid)').fill('{{ contact.first_name | shout }}');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Subject B (Liquid)' }).waitFor();
    expect((await b.getByLabel('Subject B (Liquid)').getAttribute('aria-invalid')) === 'true', 'the variant’s subject is marked');
    await b.getByLabel('Subject B (Liquid)').fill('{{ contact.first_name }}, 30% off ends Sunday');
  });

  await step('subject lines: sent to a few people, each line’s numbers and the lead are shown in words', async () => {
    for (const u of PEOPLE) {
      await ingest('identify', { userId: u, traits: { email: `${u}@example.com`, first_name: u.replace('ui-sv-', 'P') } });
      await admin('POST', '/contacts/consent', { user_id: u, channel: 'email', status: 'subscribed' });
    }
    const flow = await admin('POST', '/flows', { name: 'Weekend sale', trigger: { type: 'event', event: 'Weekend Sale Seen' }, steps: [{ id: 'mail', type: 'send', channel: 'email', template: 'ui-subjects', smart_sending: false }] });
    await admin('POST', `/flows/${flow.id}/activate`, {});
    for (const u of PEOPLE) await ingest('track', { userId: u, event: 'Weekend Sale Seen' });
    let sent = [];
    for (let i = 0; i < 100 && sent.length < PEOPLE.length; i += 1) {
      sent = (await admin('GET', `/messages?flow_id=${flow.id}&limit=100`)).items.filter((m) => m.status === 'sent');
      if (sent.length < PEOPLE.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(sent.length === PEOPLE.length && sent.every((m) => m.variant === 'A' || m.variant === 'B'), JSON.stringify(sent.map((m) => m.variant)));
    // A person opens it (a mail app, more than the 2 s after sending that only scanners react within).
    await new Promise((r) => setTimeout(r, 2_100));
    const pixel = /src="([^"]*\/o\/[^"]*)"/.exec(sent[0].html)[1];
    const res = await fetch(new URL(new URL(pixel).pathname, BASE), { headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0' } });
    expect(res.ok, `the open pixel answers (${res.status})`);
    await page.reload();
    const test = page.getByRole('region', { name: 'Subject line test' });
    await test.waitFor();
    const lead = test.getByTestId('variant-lead');
    // Six people are far from the 100 delivered emails per line a lead needs.
    await lead.getByText(/^Too early to tell: /).waitFor();
    const count = (v) => sent.filter((m) => m.variant === v).length;
    const rowA = test.getByRole('row').filter({ hasText: 'Our weekend sale starts now' });
    const rowB = test.getByRole('row').filter({ hasText: '30% off ends Sunday' });
    await rowA.getByRole('cell', { name: String(count('A')), exact: true }).first().waitFor();
    await rowB.getByRole('cell', { name: String(count('B')), exact: true }).first().waitFor();
    const opened = sent[0].variant === 'A' ? rowA : rowB;
    const rate = await opened.locator('td[data-label="Open rate"]').innerText();
    expect(/^[1-9]\d*(\.\d)?%$/.test(rate), `the opened line's open rate: ${rate}`);
    const text = await page.locator('main').innerText();
    expect(!/msg_[0-9a-f]{6}|flow_[0-9a-f]{6}|ui-subjects/.test(text), `no ids on the template page: ${text}`);
    await shot('subject-variants');
    await page.setViewportSize({ width: 390, height: 844 });
    await fits(page, 'the template editor with a subject line test');
    await test.scrollIntoViewIfNeeded();
    await shot('subject-variants-phone');
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  await step('subject lines: one line is sent to everyone; the templates list badges the test', async () => {
    const test = page.getByRole('region', { name: 'Subject line test' });
    await test.getByRole('button', { name: 'Send subject line B to everyone' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send subject line B to everyone?' });
    await dialog.getByRole('button', { name: 'Send B to everyone' }).click();
    await page.locator('#toast').getByText('Subject line B goes to everyone now').waitFor();
    await page.getByRole('region', { name: 'Subject line test' }).getByText(/^Subject line B was picked: everyone gets it\./).waitFor();
    await page.getByText('Subject line B was picked as the winner: everyone gets it.').waitFor();
    const t = await admin('GET', '/templates/ui-subjects');
    expect(t.winner === 'B', JSON.stringify(t));
    await page.goto(`${BASE}/ui/templates`);
    await page.getByRole('row').filter({ hasText: 'Weekend sale' }).getByText('A/B subject').waitFor();
    await page.setViewportSize({ width: 1280, height: 800 });
  });
}
