// The UI's router: one shell page; each path under /ui/ is drawn by a page module from the JSON API.
import { h, errorBox, pageHead } from './lib.js';
import * as dashboard from './pages/dashboard.js';
import * as contacts from './pages/contacts.js';
import * as segments from './pages/segments.js';
import * as flows from './pages/flows.js';
import * as campaigns from './pages/campaigns.js';
import * as templates from './pages/templates.js';
import * as catalog from './pages/catalog.js';
import * as outbox from './pages/outbox.js';
import * as settings from './pages/settings.js';
import * as integrations from './pages/integrations.js';
import * as imports from './pages/imports.js';
import * as privacy from './pages/privacy.js';
import * as topics from './pages/topics.js';
import * as tasks from './pages/tasks.js';
import * as quizzes from './pages/quizzes.js';
import * as forms from './pages/forms.js';
import * as landing from './pages/landing.js';

const ROUTES = [
  [/^\/ui\/?$/, dashboard.render, 'dashboard'],
  [/^\/ui\/contacts\/?$/, contacts.list, 'contacts'],
  [/^\/ui\/contacts\/([^/]+)$/, contacts.profile, 'contacts'],
  [/^\/ui\/segments\/?$/, segments.list, 'segments'],
  [/^\/ui\/segments\/new$/, segments.create, 'segments'],
  [/^\/ui\/segments\/([^/]+)$/, segments.detail, 'segments'],
  [/^\/ui\/flows\/?$/, flows.list, 'flows'],
  [/^\/ui\/flows\/([^/]+)$/, flows.detail, 'flows'],
  [/^\/ui\/campaigns\/?$/, campaigns.list, 'campaigns'],
  [/^\/ui\/campaigns\/new$/, campaigns.compose, 'campaigns'],
  [/^\/ui\/campaigns\/([^/]+)\/edit$/, campaigns.edit, 'campaigns'],
  [/^\/ui\/campaigns\/([^/]+)$/, campaigns.detail, 'campaigns'],
  [/^\/ui\/templates\/?$/, templates.list, 'templates'],
  [/^\/ui\/templates\/new$/, templates.create, 'templates'],
  [/^\/ui\/templates\/([^/]+)$/, templates.edit, 'templates'],
  [/^\/ui\/forms\/?$/, forms.list, 'forms'],
  [/^\/ui\/forms\/new$/, forms.edit, 'forms'],
  [/^\/ui\/forms\/([^/]+)$/, forms.edit, 'forms'],
  [/^\/ui\/landing-pages\/?$/, landing.list, 'landing-pages'],
  [/^\/ui\/landing-pages\/new$/, landing.edit, 'landing-pages'],
  [/^\/ui\/landing-pages\/([^/]+)$/, landing.edit, 'landing-pages'],
  [/^\/ui\/catalog\/?$/, catalog.render, 'catalog'],
  [/^\/ui\/quizzes\/?$/, quizzes.list, 'quizzes'],
  [/^\/ui\/quizzes\/new$/, quizzes.create, 'quizzes'],
  [/^\/ui\/quizzes\/([^/]+)$/, quizzes.edit, 'quizzes'],
  [/^\/ui\/tasks\/?$/, tasks.render, 'tasks'],
  [/^\/ui\/outbox\/?$/, outbox.render, 'outbox'],
  [/^\/ui\/integrations\/?$/, integrations.render, 'integrations'],
  [/^\/ui\/import\/?$/, imports.render, 'import'],
  [/^\/ui\/settings\/?$/, settings.render, 'settings'],
  [/^\/ui\/privacy\/?$/, privacy.render, 'settings'],
  [/^\/ui\/topics\/?$/, topics.render, 'settings'],
];

let generation = 0;

/** Goes to a UI path without reloading the page. */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  return render();
}

async function render() {
  const gen = ++generation;
  const main = document.getElementById('main');
  const path = location.pathname;
  let handler = null;
  let params = [];
  let section = null;
  for (const [re, fn, name] of ROUTES) {
    const m = path.match(re);
    if (m) {
      handler = fn;
      params = m.slice(1).map(decodeURIComponent);
      section = name;
      break;
    }
  }
  for (const a of document.querySelectorAll('nav#nav a')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.setAttribute('aria-busy', 'true');
  const ctx = { params, query: new URLSearchParams(location.search), navigate, alive: () => gen === generation };
  let view;
  try {
    view = handler ? await handler(ctx) : h('div', {}, pageHead('Page not found'), h('p', {}, h('a', { href: '/ui/', text: 'Go to the dashboard' })));
  } catch (e) {
    view = h('div', {}, pageHead(e.status === 404 ? 'Not found' : 'Something went wrong'), errorBox(e));
  }
  if (gen !== generation) return;
  main.replaceChildren(view);
  main.removeAttribute('aria-busy');
  const h1 = main.querySelector('h1');
  document.title = `${h1 ? h1.textContent : 'Kairos'} · Kairos`;
  if (h1 && window.__kairosNavigated) h1.focus();
  window.__kairosNavigated = true;
}

// Same-origin links to UI pages are followed without a reload (modifier keys and new tabs behave as usual).
document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/ui/') || url.pathname.startsWith('/ui/assets/')) return;
  if (url.pathname === '/ui/login' || url.pathname === '/ui/logout') return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  e.preventDefault();
  document.getElementById('nav')?.classList.remove('open');
  document.querySelector('.menu-toggle')?.setAttribute('aria-expanded', 'false');
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', render);

const toggle = document.querySelector('.menu-toggle');
toggle?.addEventListener('click', () => {
  const nav = document.getElementById('nav');
  const open = !nav.classList.contains('open');
  nav.classList.toggle('open', open);
  toggle.setAttribute('aria-expanded', String(open));
  if (open) nav.querySelector('a')?.focus();
});

render();
