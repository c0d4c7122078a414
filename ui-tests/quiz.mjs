// Quiz funnels (issue 14 item 5) in Chromium: a marketer builds a branching quiz with an email step in the UI and
// watches the live preview; a visitor on a phone takes the hosted quiz (no script on it), gives an email with
// consent and sees products in stock only; the answers land on the profile; the report says where people left,
// and the quiz pages fit a 390 px phone.

export async function quizSteps({ browser, step, expect, admin, BASE, EMAIL, PASSWORD, login, fits, shot, watch, errors }) {
  const icon = `${BASE}/ui/assets/icon.svg`;
  let quizId = null;

  await step('quizzes: the catalog a quiz recommends from', async () => {
    for (const p of [
      { id: 'quiz-road', title: 'Road One', price: 1200, categories: ['road'], inventory_quantity: 3, image_url: icon, url: 'https://velo.example/road-one' },
      { id: 'quiz-road-out', title: 'Road Sold Out', price: 900, categories: ['road'], inventory_quantity: 0, image_url: icon },
      { id: 'quiz-trail', title: 'Trail One', price: 1500, categories: ['trail'], inventory_quantity: 2, image_url: icon },
    ]) {
      await admin('PUT', `/products/${p.id}`, p);
    }
  });

  await step('quizzes: build a branching quiz in the editor with its live preview', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await ctx.newPage();
    watch(p, errors);
    await login(p, EMAIL, PASSWORD);
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Quizzes' }).click();
    await p.getByRole('heading', { level: 1, name: 'Quizzes' }).waitFor();
    await p.getByRole('link', { name: 'New quiz' }).click();
    await p.getByRole('heading', { level: 1, name: 'New quiz' }).waitFor();
    const form = p.locator('form').filter({ has: p.getByRole('button', { name: 'Create quiz' }) });
    await form.getByLabel('Name', { exact: true }).fill('Find your ride');
    const question = (n) => form.locator('fieldset').filter({ has: p.locator(`legend:text-is("Question ${n}")`) });
    const answer = (q, n) => question(q).locator('fieldset').filter({ has: p.locator(`legend:text-is("Answer ${n}")`) });
    await question(1).getByLabel('Question', { exact: true }).fill('How do you ride?');
    await question(1).getByLabel('Save the answer as trait').fill('riding_style');
    await answer(1, 1).getByLabel('Answer shown').fill('On the road');
    expect((await answer(1, 1).getByLabel('Stored as').inputValue()) === 'on_the_road', 'the stored value follows the label');
    await answer(1, 1).getByLabel('Stored as').fill('road');
    await answer(1, 1).getByLabel('Recommend categories').fill('road');
    await answer(1, 2).getByLabel('Answer shown').fill('On trails');
    await answer(1, 2).getByLabel('Stored as').fill('trail');
    await answer(1, 2).getByLabel('Recommend categories').fill('trail');
    await form.getByRole('button', { name: 'Add a question' }).click();
    await question(2).getByLabel('Question', { exact: true }).fill('How far do you ride?');
    await question(2).getByLabel('Save the answer as trait').fill('ride_distance');
    await answer(2, 1).getByLabel('Answer shown').fill('A few km');
    await answer(2, 2).getByLabel('Answer shown').fill('All day');
    // Road riders go straight to the results; trail riders are asked how far.
    await answer(1, 1).getByLabel('Then show').selectOption({ label: 'The results (end the quiz)' });
    await form.getByLabel('Ask for an email before the results').check();
    await form.getByLabel('Consent text beside the box (optional)').fill('Email me riding tips & offers');
    const frame = p.locator('iframe[title="Preview of the hosted quiz"]');
    await p.getByLabel('Show', { exact: true }).selectOption({ label: 'Question 2' });
    await p.frameLocator('iframe[title="Preview of the hosted quiz"]').getByRole('heading', { name: 'How far do you ride?' }).waitFor();
    expect((await frame.getAttribute('sandbox')) === '', 'the preview runs nothing and posts nothing');
    await shot('quiz-editor', p);
    await form.getByRole('button', { name: 'Create quiz' }).click();
    await p.getByRole('heading', { level: 1, name: 'Find your ride' }).waitFor();
    quizId = decodeURIComponent(new URL(p.url()).pathname.split('/').pop());
    await p.getByText('No one has taken this quiz yet.').waitFor();
    const saved = await admin('GET', `/quizzes/${encodeURIComponent(quizId)}`);
    expect(saved.questions[0].options[0].next === 'end' && saved.questions[0].options[1].next === null, JSON.stringify(saved.questions[0]));
    expect(saved.email && saved.email.consent.text === 'Email me riding tips & offers', JSON.stringify(saved.email));
    await ctx.close();
  });

  await step('quizzes: a visitor on a phone takes the quiz and sees products in stock only', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const p = await ctx.newPage();
    watch(p, errors);
    let scripts = 0;
    p.on('request', (r) => {
      if (r.resourceType() === 'script') scripts += 1;
    });
    await p.goto(`${BASE}/q/${encodeURIComponent(quizId)}`);
    await p.getByRole('heading', { level: 1, name: 'Find your ride' }).waitFor();
    await fits(p, 'the quiz intro');
    await p.getByRole('button', { name: 'Start the quiz' }).click();
    await p.getByRole('heading', { level: 1, name: 'How do you ride?' }).waitFor();
    await fits(p, 'a question');
    await shot('quiz-question-phone', p);
    await p.getByRole('group', { name: 'How do you ride?' }).getByRole('button', { name: 'On the road' }).click();
    await p.getByRole('heading', { level: 1, name: 'Where should we send your results?' }).waitFor();
    await p.getByLabel('Email', { exact: true }).fill('quiz-rider@example.com');
    await p.getByLabel('Email me riding tips & offers').check();
    await p.getByRole('button', { name: 'Show my results' }).click();
    await p.getByRole('heading', { level: 1, name: 'Our picks for you' }).waitFor();
    const text = await p.locator('main').innerText();
    expect(text.includes('Road One') && !text.includes('Road Sold Out') && !text.includes('Trail One'), `in stock and matching only: ${text}`);
    const card = p.getByRole('link', { name: /Road One/ });
    expect((await card.getAttribute('href')).includes('utm_medium=quiz'), 'the product link carries the quiz');
    await fits(p, 'the results');
    await shot('quiz-results-phone', p);
    expect(scripts === 0, `the hosted quiz loads no script (${scripts})`);
    const found = await admin('GET', '/contacts?email=quiz-rider%40example.com');
    const rider = found.items[0];
    expect(rider && rider.traits.riding_style === 'road', `the answer is a trait: ${JSON.stringify(rider)}`);
    expect(rider.consent.email.status === 'subscribed' && rider.consent.email.source === 'quiz', JSON.stringify(rider.consent));
    const events = await admin('GET', `/contacts/${rider.id}/events?limit=50`);
    const names = events.items.map((e) => e.event);
    for (const n of ['Quiz Started', 'Quiz Question Answered', 'Quiz Completed']) expect(names.includes(n), `${n} in ${names}`);

    // Again, on the other branch: trail riders are asked how far; the new answer replaces the trait.
    await p.getByRole('link', { name: 'Take the quiz again' }).click();
    await p.getByRole('button', { name: 'Start the quiz' }).click();
    await p.getByRole('button', { name: 'On trails' }).click();
    await p.getByRole('heading', { level: 1, name: 'How far do you ride?' }).waitFor();
    await ctx.close();
    const again = await admin('GET', '/contacts?email=quiz-rider%40example.com');
    expect(again.items[0].traits.riding_style === 'trail', 'the same visitor (their cookie), the latest answer');
  });

  await step('quizzes: the report in words, and the quiz pages on a phone', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const p = await ctx.newPage();
    watch(p, errors);
    await login(p, EMAIL, PASSWORD);
    await p.goto(`${BASE}/ui/quizzes`);
    await p.getByRole('heading', { level: 1, name: 'Quizzes' }).waitFor();
    await fits(p, 'the quiz list');
    await p.getByRole('link', { name: 'Find your ride' }).click();
    await p.getByRole('heading', { level: 1, name: 'Find your ride' }).waitFor();
    await p.getByText('2 visitors started the quiz and 1 finished it (50%).').waitFor();
    const far = await p.locator('li[data-question="q2"]').innerText();
    expect(far.includes('1 reached it and 0 answered') && far.includes('1 left here'), far);
    await fits(p, 'the quiz editor and report');
    await shot('quiz-report-phone', p);
    await ctx.close();
  });
}
