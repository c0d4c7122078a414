// The block email editor in Chromium (issue 16, item 3): a new email starts from blocks; a products section of
// a collection is added and filled, sections are reordered with the arrow buttons and by dragging, and the live
// preview (for a chosen contact and a sample Checkout Started event) follows; saved, reloaded, the blocks are
// there in their order. Switching an HTML email to blocks asks first. Screenshots at 1440×900 and 390×844.

export async function emailBlocksSteps({ page, step, expect, admin, ingest, BASE, shot, fits }) {
  const sections = () => page.locator('li.email-block');
  const titles = async () => (await page.locator('li.email-block h3').allInnerTexts()).join('|');
  const frame = () => page.frameLocator('iframe').first();
  const until = async (what, fn, ms = 10_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn().catch(() => false);
      if (v) return v;
      expect(Date.now() < end, `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  await step('block emails: a new email starts from blocks and is created from them', async () => {
    await ingest('identify', { userId: 'ui-blocks', traits: { email: 'blocks@example.com', first_name: 'Bea' } });
    await admin('PUT', '/products/ui-lamp', { title: 'Reading lamp', price: 49, categories: ['UI Lighting'], image_url: 'https://cdn.example/lamp.jpg' });
    await page.goto(`${BASE}/ui/templates/new`);
    await page.getByRole('heading', { level: 1, name: 'New template' }).waitFor();
    expect(await page.getByLabel('Blocks', { exact: true }).isChecked(), 'a new email is built with blocks');
    expect(!(await page.locator('textarea[name="html"]').isVisible()), 'the HTML editor is hidden in blocks mode');
    expect((await titles()) === '1. Header|2. Text|3. Button|4. Footer', await titles());
    // The footer carries the unsubscribe link: without it the email is flagged.
    const warn = page.getByTestId('no-unsubscribe');
    expect(!(await warn.isVisible()), 'the starter blocks end with a footer');
    await page.getByRole('button', { name: 'Remove: section 4, Footer' }).click();
    await warn.waitFor();
    await page.getByRole('button', { name: /^Add footer/ }).click();
    await warn.waitFor({ state: 'hidden' });
    await page.getByLabel('Id (optional)').fill('ui-blocks');
    await page.getByLabel('Name', { exact: true }).fill('Block reminder');
    await page.getByRole('button', { name: 'Create template' }).click();
    await page.waitForURL(`${BASE}/ui/templates/ui-blocks`);
    await page.getByRole('heading', { level: 1, name: 'Block reminder' }).waitFor();
    const t = await admin('GET', '/templates/ui-blocks');
    expect(t.blocks.length === 4 && t.html.includes('{{ unsubscribe_url }}'), JSON.stringify(t.blocks));
  });

  await step('block emails: sections are added, filled and reordered by button and by drag; the preview follows', async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.getByLabel('Preview for contact (email, user id or contact id)').fill('blocks@example.com');
    await page.getByLabel('Trigger event').selectOption('sample:checkout');
    const text = sections().nth(1);
    await text.getByLabel('Text', { exact: true }).fill('Hi {{ contact.first_name }}, <b>not bold</b>');
    await frame().getByText('Hi Bea, <b>not bold</b>').waitFor();
    await sections().nth(2).getByLabel('Button words').fill('Visit the shop');
    await page.getByRole('button', { name: /^Add products/ }).click();
    expect((await titles()) === '1. Header|2. Text|3. Button|4. Products|5. Footer', `added above the footer: ${await titles()}`);
    const products = sections().nth(3);
    await products.getByLabel('Products from').selectOption('collection');
    await sections().nth(3).getByLabel('Category').fill('ui lighting');
    await sections().nth(3).getByLabel('Heading (optional)').fill('Lights we love');
    await frame().getByText('Reading lamp').waitFor();
    // By button: the focus follows the moved section.
    await page.getByRole('button', { name: 'Move up: section 4, Products' }).click();
    expect((await titles()) === '1. Header|2. Text|3. Products|4. Button|5. Footer', await titles());
    expect(await page.getByRole('button', { name: 'Move up: section 3, Products' }).evaluate((b) => b === document.activeElement), 'the focus follows');
    await until('the preview with the products above the button', async () => {
      const body = await frame().locator('body').innerText();
      return body.indexOf('Reading lamp') >= 0 && body.indexOf('Reading lamp') < body.indexOf('Visit the shop');
    });
    // By drag: the button by its handle onto the top half of the products section above it.
    await sections().nth(2).scrollIntoViewIfNeeded();
    await sections().nth(3).locator('.drag-handle').dragTo(sections().nth(2), { targetPosition: { x: 40, y: 4 } });
    expect((await titles()) === '1. Header|2. Text|3. Button|4. Products|5. Footer', `after the drag: ${await titles()}`);
    await until('the preview in the new order', async () => {
      const body = await frame().locator('body').innerText();
      return body.indexOf('Hi Bea') >= 0 && body.indexOf('Hi Bea') < body.indexOf('Visit the shop') && body.indexOf('Visit the shop') < body.indexOf('Reading lamp');
    });
    await frame().getByText('Unsubscribe').waitFor();
    await shot('email-blocks-editor');
  });

  await step('block emails: saved, reloaded, the blocks are there in their order; the editor fits a phone', async () => {
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#toast').getByText('Saved version 2').waitFor();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Block reminder' }).waitFor();
    expect((await titles()) === '1. Header|2. Text|3. Button|4. Products|5. Footer', `after a reload: ${await titles()}`);
    expect((await sections().nth(3).getByLabel('Category').inputValue()) === 'ui lighting', 'the fields are kept');
    const t = await admin('GET', '/templates/ui-blocks');
    expect(t.blocks.map((b) => b.type).join(',') === 'header,text,button,products,footer', JSON.stringify(t.blocks));
    expect(t.blocks[3].source === 'collection' && t.blocks[3].collection === 'ui lighting', JSON.stringify(t.blocks[3]));
    await page.setViewportSize({ width: 390, height: 844 });
    await fits(page, 'the block email editor');
    await page.getByRole('button', { name: 'Move down: section 1, Header' }).click();
    expect((await titles()).startsWith('1. Text|2. Header'), `moved on a phone: ${await titles()}`);
    await shot('email-blocks-editor-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step('block emails: an HTML email asks before it is switched to blocks', async () => {
    await admin('POST', '/templates', { id: 'ui-html', name: 'Hand-written', channel: 'email', subject: 'Hi', html: '<p>Hand-written HTML {{ unsubscribe_url }}</p>' });
    await page.goto(`${BASE}/ui/templates/ui-html`);
    await page.getByRole('heading', { level: 1, name: 'Hand-written' }).waitFor();
    expect(await page.getByLabel('HTML', { exact: true }).isChecked(), 'an HTML email opens in HTML mode');
    await page.getByLabel('Blocks', { exact: true }).check();
    const dialog = page.getByRole('dialog', { name: 'Build this email from blocks?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await until('cancelled: still HTML', () => page.getByLabel('HTML', { exact: true }).isChecked());
    expect((await page.locator('textarea[name="html"]').inputValue()).includes('Hand-written HTML'), 'the HTML is kept');
    await page.getByLabel('Blocks', { exact: true }).check();
    await dialog.getByRole('button', { name: 'Use blocks' }).click();
    await sections().first().waitFor();
    expect(!(await page.locator('textarea[name="html"]').isVisible()), 'blocks replace the HTML editor');
    const stored = await admin('GET', '/templates/ui-html');
    expect(stored.version === 1 && !stored.blocks, 'nothing changes until saved');
  });
}
