/**
 * The dashboard's page: a hash router over the entry list, an entry, the timeline, the audit trail, the dead letters,
 * an owner's plan and apply and the deployment, the login form, and a refresh every few seconds while the page is visible (nothing
 * is asked while the tab is hidden).
 */
import { ApiError, get, post, setCsrf } from './api.js';
import { h } from './dom.js';
import { entriesView } from './entries-view.js';
import { entryEditor, entryView, errorText } from './entry-view.js';
import { deploymentView, groupsLine, timelineView } from './other-views.js';
import { auditRoute, auditView } from './audit-view.js';
import { planView } from './plan-view.js';
import { deadLettersView } from './dead-letters-view.js';
import { stopBar } from './stop-bar.js';
import type { OverviewWire, SessionWire } from '../dashboard/wire.js';

const REFRESH_MS = 5000;
/** Past this many entries a refresh sorted by next run, last run, runs or result reads every entry on the server: refresh less often. */
const LARGE = 10_000;
const LARGE_REFRESH_MS = 30_000;
let lastRefreshMs = 0;

let overview: OverviewWire | undefined;
let list: ReturnType<typeof entriesView> | undefined;

function main(): HTMLElement {
  return document.getElementById('main') as HTMLElement;
}

function notice(text: string, kind: 'ok' | 'error' = 'ok'): void {
  const banner = document.getElementById('banner') as HTMLElement;
  banner.replaceChildren(h('p', { class: `notice ${kind}` }, text));
}

function sessionBox(o: SessionWire): void {
  const box = document.getElementById('session') as HTMLElement;
  if (o.actions === 'off') {
    box.replaceChildren(
      h('span', { class: 'hint', title: 'Start beat run with --api-token-file PATH (or BEAT_API_TOKEN) to enable actions' }, 'read-only'),
    );
    return;
  }
  if (o.actions === 'on') {
    box.replaceChildren(
      // Who is signed in, and what they may do (a signed-in person's grants), as the audit will name them.
      h('span', { class: 'who', title: o.grants === null ? (o.who ?? '') : `${o.who ?? ''}: ${o.grants}` }, o.who ?? ''),
      h(
        'button',
        {
          type: 'button',
          onclick: () =>
            void post('/ui/api/logout').then(async () => {
              setCsrf(null);
              await refresh(true);
            }),
        },
        'Log out',
      ),
    );
    return;
  }
  const token = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'current-password',
    placeholder: 'API token',
    'aria-label': 'API token',
    required: true,
  });
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: (event: Event) => {
        event.preventDefault();
        void post<{ csrf: string }>('/ui/api/login', { token: token.value })
          .then(async (answer) => {
            setCsrf(answer.csrf);
            notice('Logged in');
            await refresh(true);
          })
          .catch((error: unknown) => notice(errorText(error), 'error'));
      },
    },
    token,
    h('button', { type: 'submit' }, 'Log in'),
  );
  // Single sign-on: a plain link, the server sends the browser on to the identity provider.
  const signIn = o.signIn ? h('a', { href: '/ui/sign-in', class: 'button' }, 'Sign in') : null;
  box.replaceChildren(...(o.login ? [form] : []), ...(signIn === null ? [] : [signIn]));
}

async function loadOverview(): Promise<OverviewWire> {
  overview = await get<OverviewWire>('/ui/api/overview');
  setCsrf(overview.csrf);
  sessionBox(overview);
  stopBar(overview, notice, () => refresh(false));
  return overview;
}

/** Shows the page the hash names; `full` redraws it (a navigation), otherwise only its data. */
async function refresh(full: boolean): Promise<void> {
  lastRefreshMs = performance.now();
  try {
    const o = await loadOverview();
    const raw = location.hash.replace(/^#\/?/, '');
    const route = decodeURIComponent(raw);
    // The Audit tab's filter is read from the hash as typed: a who holds spaces and "<", an entry "?".
    const audit = auditRoute(raw);
    const root = main();
    if (route.startsWith('entry/')) {
      list = undefined;
      // An entry page is redrawn only on navigation: a refresh must not drop a half-typed edit.
      if (full) await entryView(root, route.slice('entry/'.length), o, notice);
    } else if (route.startsWith('timeline')) {
      list = undefined;
      await timelineView(root, route === 'timeline/day', o.counts.entries);
    } else if (audit !== undefined) {
      list = undefined;
      // Redrawn only on navigation: a refresh would throw the reader back to the newest page.
      if (full) auditView(root, audit);
    } else if (route === 'plan') {
      list = undefined;
      // Redrawn only on navigation (and a login): a refresh must not drop the entries pasted or the plan shown.
      if (full) planView(root, o, notice);
    } else if (route === 'dead-letters') {
      list = undefined;
      await deadLettersView(root, o, notice);
    } else if (route === 'deployment') {
      list = undefined;
      deploymentView(root, o);
    } else if (route === 'new') {
      list = undefined;
      if (full) {
        root.replaceChildren(
          h('h1', {}, 'New runtime entry'),
          entryEditor(null, { task: 'app.tasks.example', schedule: { every: '5m' } }, notice, (name) => {
            location.hash = name === null ? '#/' : `#/entry/${encodeURIComponent(name)}`;
          }),
        );
      }
    } else {
      if (list === undefined || full) {
        list = entriesView(root);
        if (o.actions === 'on' && o.entriesApi) root.prepend(h('p', {}, h('a', { href: '#/new', class: 'button' }, 'New runtime entry')));
        if (o.actions === 'off') {
          root.prepend(
            h(
              'p',
              { class: 'hint' },
              'Read-only: start beat run with --api-token-file PATH (or BEAT_API_TOKEN) to pause, resume, trigger and edit entries here.',
            ),
          );
        }
      }
      groupsLine(root, o);
      await list.refresh();
    }
    if (full) document.title = `tsbeat · ${o.deployment}`;
  } catch (error) {
    // Not let in to read (off loopback, signed out): the ways in, from the open /ui/session.
    if (error instanceof ApiError && (error.status === 401 || error.status === 403))
      await get<SessionWire>('/ui/session').then(sessionBox, () => undefined);
    if (error instanceof ApiError && error.body.code === 'login_required')
      notice(
        overview?.signIn === true
          ? 'Sign in (or log in with an API token) to see this deployment.'
          : 'Log in with the API token to see this deployment.',
        'error',
      );
    else notice(errorText(error), 'error');
  }
}

window.addEventListener('hashchange', () => {
  document.getElementById('banner')?.replaceChildren();
  void refresh(true).then(() => main().focus());
});
window.setInterval(() => {
  if (document.visibilityState !== 'visible') return;
  const every = (overview?.counts.entries ?? 0) > LARGE ? LARGE_REFRESH_MS : REFRESH_MS;
  if (performance.now() - lastRefreshMs < every - 100) return;
  void refresh(false);
}, REFRESH_MS);
void refresh(true);
