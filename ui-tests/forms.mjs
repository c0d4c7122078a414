// The Forms page (issue 14, item 8): a marketer designs a popup with double opt-in, watches the live preview follow
// the typing, meets a refused field next to its control, saves, finds the form in the list in words with its
// address to copy and the code for their site, checks the page on a phone, and deletes the form.
export async function formsSteps({ page, step, expect, admin, BASE, shot, fits }) {
  const preview = page.frameLocator('iframe[title="Preview of the form"]');
  let id = '';

  await step('forms: design a popup with double opt-in while the preview follows the typing', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Forms' }).click();
    await page.getByRole('heading', { level: 1, name: 'Forms' }).waitFor();
    await page.getByRole('link', { name: 'New form' }).click();
    await page.getByRole('heading', { level: 1, name: 'New form' }).waitFor();
    // A popup on a stand-in store page by default, titled with what is typed.
    await page.getByLabel('Form name').fill('Spring <b>club</b>');
    await preview.getByRole('dialog').getByRole('heading', { name: 'Spring <b>club</b>' }).waitFor();
    // A second field, saved to the first name, with its own label.
    await page.getByRole('button', { name: 'Add a field' }).click();
    const second = page.getByRole('group', { name: /^Field 2:/ });
    expect((await second.getByLabel('Saves to').inputValue()) === 'first_name', 'the next common profile field is offered');
    await second.getByLabel('Label', { exact: true }).fill('Your first name');
    await preview.getByLabel('Your first name').waitFor();
    // Moved above the email with the keyboard; the preview follows the order.
    await page.getByRole('button', { name: 'Move Your first name up' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('group', { name: 'Field 1: Your first name' }).waitFor();
    const order = await preview.locator('label').allInnerTexts();
    expect(order[0] === 'Your first name' && order[1] === 'Email', `preview order: ${order}`);
    // The consent text is shown exactly, as text.
    await page.getByLabel('Text beside the box').fill('Send me spring offers & news <weekly>');
    await preview.getByText('Send me spring offers & news <weekly>', { exact: true }).waitFor();
    // Double opt-in: explained, with the confirmation email chosen by name.
    await page.getByLabel('Double opt-in: confirm the address by email').check();
    await page.getByText('only when they follow it (within 7 days)').waitFor();
    const confirmation = page.getByLabel('Confirmation email');
    expect((await confirmation.locator('option:checked').innerText()) === 'The built-in confirmation email', 'the default confirmation email');
    await page.getByLabel('Show it after a sign-up').check();
    await preview.getByText('Almost done: check your inbox and confirm your subscription.').waitFor();
    await page.getByLabel('Show it after a sign-up').uncheck();
    // The same form as its hosted page.
    await page.getByLabel('Preview as').selectOption('hosted');
    await preview.getByRole('heading', { level: 1, name: 'Spring <b>club</b>' }).waitFor();
    await page.getByLabel('Preview as').selectOption('popup');
    await preview.getByRole('dialog').waitFor();
    await shot('form-designer');
  });

  await step('forms: a field refused by the server is shown next to it, then the form is saved', async () => {
    const delay = page.getByLabel('Seconds on the page');
    await delay.fill('99999');
    await page.getByLabel('Show only on pages').fill('/bikes/*\n/');
    await page.getByRole('button', { name: 'Save form' }).click();
    const error = page.getByRole('alert').filter({ hasText: 'display.delay_seconds is a whole number from 0 to 3600' });
    await error.waitFor();
    expect((await delay.getAttribute('aria-invalid')) === 'true', 'the field is marked invalid');
    const errorId = await error.getAttribute('id');
    expect((await delay.getAttribute('aria-describedby')).split(' ').includes(errorId), 'the field is described by its error');
    expect(await delay.evaluate((el) => el === document.activeElement), 'the focus goes to the refused field');
    await page.getByText('Not saved: see “Seconds on the page” above.').waitFor();
    expect((await admin('GET', '/forms')).items.length === 0, 'nothing was stored');
    await shot('form-field-error');
    await delay.fill('3');
    await page.getByRole('button', { name: 'Save form' }).click();
    await page.getByRole('heading', { level: 1, name: 'Spring <b>club</b>' }).waitFor();
    expect((await page.getByRole('alert').count()) === 0, 'the error is gone');
    id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    const saved = await admin('GET', `/forms/${encodeURIComponent(id)}`);
    expect(saved.display.type === 'popup' && saved.display.delay_seconds === 3 && saved.double_opt_in === true, `saved: ${JSON.stringify(saved)}`);
    expect(JSON.stringify(saved.display.show_on) === '["/bikes/*","/"]', `pages: ${JSON.stringify(saved.display.show_on)}`);
    expect(saved.fields.map((f) => f.name).join() === 'first_name,email', `fields: ${JSON.stringify(saved.fields)}`);
    expect(saved.consent.text === 'Send me spring offers & news <weekly>' && saved.confirmation_template === null, `consent: ${JSON.stringify(saved)}`);
    // The code for the site: the tracker for a popup, plus the <div> once it is inline.
    const code = page.getByRole('textbox', { name: 'Code for your site' });
    const popupCode = await code.inputValue();
    expect(popupCode.includes(`${BASE}/js/kairos.js`) && popupCode.includes('data-write-key') && !popupCode.includes('data-kairos-form'), popupCode);
    await page.getByLabel('How it is shown').selectOption('inline');
    expect((await code.inputValue()).includes(`<div data-kairos-form="${id}"></div>`), 'the inline slot names the form');
    await page.getByLabel('How it is shown').selectOption('popup');
  });

  await step('forms: the list tells the form in words, with its address to copy', async () => {
    await page.getByRole('link', { name: 'All forms' }).click();
    await page.getByRole('heading', { level: 1, name: 'Forms' }).waitFor();
    const row = page.locator('tr[data-form="Spring <b>club</b>"]');
    await row.getByRole('link', { name: 'Spring <b>club</b>' }).waitFor();
    await row.getByText('Popup after 3 s, on /bikes/*, /').waitFor();
    await row.getByText('Double opt-in (email)').waitFor();
    await row.getByRole('link', { name: `${BASE}/f/${id}` }).waitFor();
    await row.getByRole('button', { name: 'Copy the address of Spring <b>club</b>' }).click();
    await page.locator('#toast').getByText(/^(Copied|Select the text)/).waitFor();
    const text = await page.locator('main').innerText();
    expect(!text.includes('frm_') || text.split('frm_').length === 2, 'the id shows only inside the copyable address');
    await shot('forms');
  });

  await step('forms: the list and the designer fit a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await fits(page, 'the forms list');
    await shot('forms-phone');
    await page.getByRole('link', { name: 'Spring <b>club</b>' }).click();
    await page.getByRole('heading', { level: 1, name: 'Spring <b>club</b>' }).waitFor();
    await preview.getByRole('dialog').waitFor();
    await fits(page, 'the form designer');
    await shot('form-designer-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step('forms: delete the form after confirming', async () => {
    await page.getByRole('button', { name: 'Delete form' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete Spring <b>club</b>?' });
    await dialog.getByRole('button', { name: 'Delete permanently' }).click();
    await page.getByRole('heading', { level: 1, name: 'Forms' }).waitFor();
    await page.getByText('No forms yet.').waitFor();
    expect((await admin('GET', '/forms')).items.length === 0, 'the form is gone');
    const hosted = await fetch(`${BASE}/f/${id}`);
    expect(hosted.status === 404, `the hosted page answers ${hosted.status}`);
  });
}
