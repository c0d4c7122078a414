// Landing pages in Chromium: a page built in the UI editor (blocks added, reordered and removed, the live preview
// following), published, then opened by a phone visitor from a newsletter link who signs up through its form; the
// visit keeps its UTM campaign, the signup names the page, and the editor's report says so in words; the editor
// fits a 390 px phone.

export async function landingSteps({ browser, page, step, expect, admin, shot, fits, watch, errors, BASE }) {
  const until = async (what, fn, ms = 10_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      expect(Date.now() < end, `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  await step('landing pages: a page is built from blocks in the editor with a live preview', async () => {
    await admin('POST', '/forms', {
      id: 'ui-join', name: 'Join the club',
      fields: [{ name: 'email', type: 'email', required: true, label: 'Your email' }],
      consent: { channel: 'email', text: 'Send me news and offers' },
    });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Landing pages' }).click();
    await page.getByRole('heading', { level: 1, name: 'Landing pages' }).waitFor();
    await page.getByRole('link', { name: 'New landing page' }).click();
    await page.getByRole('heading', { level: 1, name: 'New landing page' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Spring sale');
    await page.getByLabel('Address (optional)').fill('spring-sale');
    const hero = page.locator('fieldset.block').nth(0);
    await hero.getByLabel('Heading').fill('Ride into <spring>');
    const preview = page.frameLocator('iframe[title="Preview of the page"]');
    await preview.getByRole('heading', { level: 1, name: 'Ride into <spring>' }).waitFor();
    // Products are recommended by default: what is trending in the store (in stock) shows.
    await preview.locator('.products .card').first().waitFor();
    await page.getByLabel('New block').selectOption('form');
    await page.getByRole('button', { name: 'Add block' }).click();
    const formBlock = page.locator('fieldset.block').nth(2);
    await formBlock.getByLabel('Form').selectOption({ label: 'Join the club' });
    await formBlock.getByLabel('Heading (optional)').fill('Get 10% off');
    await page.getByRole('button', { name: 'Move up: block 3' }).click();
    const legends = await page.locator('fieldset.block legend').allInnerTexts();
    expect(legends.join('|') === 'Block 1: Hero|Block 2: Signup form|Block 3: Products', legends.join('|'));
    expect(await page.getByRole('button', { name: 'Move up: block 2' }).evaluate((b) => b === document.activeElement), 'the focus follows the moved block');
    await page.getByRole('button', { name: 'Remove block 3' }).click();
    expect((await page.locator('fieldset.block').count()) === 2, 'the products block is gone');
    await preview.getByRole('heading', { name: 'Get 10% off' }).waitFor();
    await until('the preview without products', async () => (await preview.locator('.products').count()) === 0);
    await page.getByLabel('Published: visitors can open the page').check();
    await page.getByRole('button', { name: 'Create page' }).click();
    await page.waitForURL(`${BASE}/ui/landing-pages/spring-sale`);
    await page.getByRole('heading', { level: 1, name: 'Spring sale' }).waitFor();
    await page.locator('[data-testid="landing-report"]').getByText('0 visits from 0 people').waitFor();
    await shot('landing-editor');
  });

  await step('landing pages: a phone visitor from a newsletter link signs up on the page', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const p = await phone.newPage();
    watch(p, errors);
    const link = `${BASE}/p/spring-sale?utm_source=newsletter&utm_medium=email&utm_campaign=spring`;
    await p.goto(link);
    await p.getByRole('heading', { level: 1, name: 'Ride into <spring>' }).waitFor();
    await fits(p, 'the landing page');
    await shot('landing-page-phone', p);
    const aid = (await phone.cookies(BASE)).find((c) => c.name === 'kairos_aid')?.value;
    expect(aid, 'the visitor has the tracker’s anonymous id');
    await p.getByLabel('Your email').fill('spring@example.com');
    await p.getByLabel('Send me news and offers').check();
    await p.getByRole('button', { name: 'Sign up' }).click();
    await p.getByRole('status').waitFor();
    const contact = await until('the signed-up visitor', async () => (await admin('GET', '/contacts?email=spring%40example.com')).items[0]);
    expect((contact.anonymous_ids || []).includes(aid), 'the signup is the visitor who came from the link');
    expect(contact.consent.email.status === 'subscribed', `consent: ${contact.consent.email.status}`);
    const events = (await admin('GET', `/contacts/${contact.id}/events?limit=50`)).items;
    const visit = events.find((e) => e.type === 'page');
    expect(visit && visit.context.campaign.source === 'newsletter' && visit.context.campaign.name === 'spring', JSON.stringify(visit));
    const signup = events.find((e) => e.event === 'Form Submitted');
    expect(signup && signup.properties.page.endsWith('/p/spring-sale'), JSON.stringify(signup));
    await phone.close();
  });

  await step('landing pages: the report says it in words and the editor fits a phone', async () => {
    await page.reload();
    const report = page.locator('[data-testid="landing-report"]');
    await report.getByText('1 visit from 1 person').waitFor();
    await report.getByText('1 person signed up').waitFor();
    await report.getByText('Visits by source: newsletter (1)').waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await fits(page, 'the landing page editor');
    await shot('landing-editor-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    const list = await admin('GET', '/landing-pages');
    expect(list.items.length === 1 && list.items[0].published, JSON.stringify(list.items));
  });

  await step('contacts: the profile shows the sign-up evidence and preference choices in words', async () => {
    const contact = (await admin('GET', '/contacts?email=spring%40example.com')).items[0];
    await page.goto(`${BASE}/ui/contacts/${encodeURIComponent(contact.id)}`);
    const evidence = page.locator('[data-testid="consent-evidence"]');
    await evidence.getByText('“Send me news and offers”').waitFor();
    await evidence.getByText('Join the club', { exact: true }).waitFor();
    await evidence.getByText('Every marketing email').waitFor();
    expect((await evidence.innerText()).includes('/p/spring-sale'), 'the page it happened on');
  });
}
