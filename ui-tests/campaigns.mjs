// Campaigns (issue 16, item 1): a marketer composes a campaign whose time defaults to tomorrow (never "now"),
// is asked before it is scheduled with the audience size and the time in the store's zone, keeps it as a draft,
// schedules it, cancels it, duplicates it, meets a time in the past refused next to the form, deletes the copy,
// and pauses and resumes one that is sending. Every page fits a phone.
export async function campaignSteps({ page, step, expect, admin, BASE, shot, fits }) {
  let id = '';

  await step('campaigns: compose, confirm with the audience and the time, keep it as a draft', async () => {
    await admin('POST', '/templates', { id: 'spring-news', name: 'Spring news', channel: 'email', subject: 'Spring is here', html: '<p>New bikes</p>', text: 'New bikes' });
    await admin('POST', '/segments', { name: 'Spring readers', definition: 'email exists' });
    await page.goto(`${BASE}/ui/campaigns/new`);
    await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();
    expect(await page.getByLabel('At a time').isChecked(), 'the time defaults to a chosen time, not "right away"');
    const at = await page.getByLabel('Send at (your time zone)').inputValue();
    expect(new Date(at).getTime() > Date.now(), `a default time in the future: ${at}`);
    await page.getByLabel('Name', { exact: true }).fill('Spring launch');
    await page.getByLabel('Template', { exact: true }).selectOption({ label: 'Spring news' });
    await page.getByRole('group', { name: 'Send to segments' }).getByLabel(/^Spring readers/).check();
    await page.getByRole('button', { name: 'Save and schedule…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Schedule “Spring launch”?' });
    await dialog.getByText(/^It goes to \d[\d,]* (person|people) on /).waitFor();
    await dialog.getByText('(UTC)').waitFor();
    await shot('campaign-confirm');
    await dialog.getByRole('button', { name: 'Not yet' }).click();
    await page.getByText('A draft: nothing is sent until you schedule it.').waitFor();
    id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    const c = await admin('GET', `/campaigns/${id}`);
    expect(c.status === 'draft', `kept as a draft: ${c.status}`);
    const text = await page.locator('main').innerText();
    expect(text.includes('Spring readers') && text.includes('Spring news') && !/seg_[0-9a-f]/.test(text), `names, not ids: ${text}`);
  });

  await step('campaigns: schedule after confirming, then cancel it', async () => {
    await page.getByRole('button', { name: 'Schedule…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Schedule', exact: true }).click();
    await page.getByText('Scheduled: you can still edit or cancel it.').waitFor();
    await page.getByRole('button', { name: 'Cancel campaign…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel campaign', exact: true }).click();
    await page.getByText('Cancelled: nobody was sent to.').waitFor();
    expect((await admin('GET', `/campaigns/${id}`)).status === 'cancelled', 'cancelled');
    expect((await page.getByRole('link', { name: 'Edit' }).count()) === 0, 'a cancelled campaign cannot be edited');
    await shot('campaign-cancelled');
  });

  await step('campaigns: duplicate, a time in the past is refused by the field, delete the copy', async () => {
    await page.getByRole('button', { name: 'Duplicate' }).click();
    await page.getByRole('heading', { level: 1, name: 'Edit “Spring launch (copy)”' }).waitFor();
    await page.getByLabel('At a time').check();
    const at = page.getByLabel('Send at (your time zone)');
    await at.fill('2020-01-01T10:00');
    await page.getByRole('button', { name: 'Save draft' }).click();
    // The browser refuses it at the field (its minimum is now); the server would too (400 naming schedule.at).
    expect(await at.evaluate((el) => el.validity.rangeUnderflow), 'a past time is refused by the field');
    const copies = (await admin('GET', '/campaigns')).items.filter((c) => c.name === 'Spring launch (copy)');
    expect(copies.length === 1 && copies[0].schedule?.at !== '2020-01-01T10:00:00.000Z', `nothing saved: ${JSON.stringify(copies)}`);
    await page.getByRole('link', { name: 'Back to the campaign' }).click();
    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete draft' }).click();
    await page.getByRole('heading', { level: 1, name: 'Campaigns' }).waitFor();
    const list = await admin('GET', '/campaigns');
    expect(!list.items.some((c) => c.name === 'Spring launch (copy)'), 'the copy is deleted');
  });

  await step('campaigns: pause and resume one that is sending; the pages fit a phone', async () => {
    const c = await admin('POST', '/campaigns', { name: 'Slow drip', channel: 'email', template: 'spring-news', segments: ['Spring readers'], schedule: { type: 'now' }, throttle_per_minute: 1 });
    await admin('POST', `/campaigns/${c.id}/schedule`);
    let status = '';
    for (let i = 0; i < 50 && status !== 'sending' && status !== 'sent'; i += 1) {
      status = (await admin('GET', `/campaigns/${c.id}`)).status;
      if (status === 'scheduled') await new Promise((r) => setTimeout(r, 100));
    }
    await page.goto(`${BASE}/ui/campaigns/${c.id}`);
    if (status === 'sending') {
      await page.getByRole('button', { name: 'Pause sending' }).click();
      await page.getByText('Paused: nothing more goes out until you resume it.').waitFor();
      await page.getByRole('button', { name: 'Resume sending' }).click();
      await page.getByText('Sending now.').waitFor();
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await fits(page, 'a campaign');
    await shot('campaign-phone');
    await page.goto(`${BASE}/ui/campaigns/new`);
    await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();
    await fits(page, 'the campaign composer');
    await page.setViewportSize({ width: 1280, height: 800 });
  });
}
