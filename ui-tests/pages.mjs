// Every page of the UI at a desktop size (1440×900) and a phone size (390×844): each renders its heading, fits the
// phone without sideways scrolling, and leaves a screenshot in SCREENSHOT_DIR/pages/ (issue 16, item 8).
export async function everyPageSteps({ browser, step, expect, admin, BASE, login, EMAIL, PASSWORD, watch, errors, SHOTS }) {
  const [contacts, segments, flows, campaigns, templates, forms, landing, quizzes] = await Promise.all(
    ['/contacts?limit=1', '/segments', '/flows', '/campaigns', '/templates', '/forms', '/landing-pages', '/quizzes'].map((p) => admin('GET', p).catch(() => ({ items: [] }))),
  );
  const first = (r) => (r?.items || [])[0];
  const pages = [
    ['dashboard', '/ui/'],
    ['contacts', '/ui/contacts'],
    first(contacts) && ['contact', `/ui/contacts/${first(contacts).id}`],
    ['segments', '/ui/segments'],
    ['segment-new', '/ui/segments/new'],
    first(segments) && ['segment', `/ui/segments/${encodeURIComponent(first(segments).id)}`],
    ['flows', '/ui/flows'],
    first(flows) && ['flow', `/ui/flows/${encodeURIComponent(first(flows).id)}`],
    ['campaigns', '/ui/campaigns'],
    ['campaign-new', '/ui/campaigns/new'],
    first(campaigns) && ['campaign', `/ui/campaigns/${encodeURIComponent(first(campaigns).id)}`],
    ['templates', '/ui/templates'],
    ['template-new', '/ui/templates/new'],
    first(templates) && ['template', `/ui/templates/${encodeURIComponent(first(templates).id)}`],
    ['forms', '/ui/forms'],
    ['form-new', '/ui/forms/new'],
    first(forms) && ['form', `/ui/forms/${encodeURIComponent(first(forms).id)}`],
    ['landing-pages', '/ui/landing-pages'],
    first(landing) && ['landing-page', `/ui/landing-pages/${encodeURIComponent(first(landing).id)}`],
    ['quizzes', '/ui/quizzes'],
    first(quizzes) && ['quiz', `/ui/quizzes/${encodeURIComponent(first(quizzes).id)}`],
    ['catalog', '/ui/catalog'],
    ['tasks', '/ui/tasks'],
    ['outbox', '/ui/outbox'],
    ['integrations', '/ui/integrations'],
    ['import', '/ui/import'],
    ['settings', '/ui/settings'],
    ['privacy', '/ui/privacy'],
    ['topics', '/ui/topics'],
  ].filter(Boolean);
  for (const [size, viewport, phone] of [
    ['desktop', { width: 1440, height: 900 }, false],
    ['phone', { width: 390, height: 844 }, true],
  ]) {
    await step(`every page renders at ${viewport.width}×${viewport.height}${phone ? ' and fits the phone' : ''} (${pages.length} pages)`, async () => {
      const context = await browser.newContext(phone ? { viewport, isMobile: true, hasTouch: true } : { viewport });
      context.setDefaultTimeout(10_000);
      const p = await context.newPage();
      watch(p, errors);
      await login(p, EMAIL, PASSWORD);
      for (const [name, path] of pages) {
        await p.goto(`${BASE}${path}`);
        await p.getByRole('heading', { level: 1 }).first().waitFor();
        await p.waitForLoadState('networkidle');
        if (phone) {
          const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          expect(overflow <= 1, `${name} fits the phone (${overflow}px too wide)`);
        }
        const text = await p.locator('main').innerText();
        expect(!/\b(undefined|NaN|\[object Object\])\b/.test(text), `${name} shows no broken values`);
        // Words, not internal ids: flows, segments, campaigns and messages are named (issue 16 item 4).
        const ids = text.match(/\b(flow|seg|cmp|msg)_[0-9a-z]{6,}\b/g);
        expect(!ids, `${name} shows ids where people expect names: ${ids}`);
        await p.screenshot({ path: `${SHOTS}/pages/${name}-${size}.png`, fullPage: true });
      }
      await context.close();
    });
  }
}
