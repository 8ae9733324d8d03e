/**
 * The audit trail on the page: the Audit tab (every change to every entry, newest first, paged,
 * filtered by entry and by who) and an entry's own recent changes, both read from GET /api/audit
 * (its `entry` and `who`), which the dashboard's session (or loopback without a token) may read as
 * the page's other reads. Each event shows who made it and the grant it was made under.
 */
import { get } from './api.js';
import { fill, h } from './dom.js';
import type { AuditEventView, AuditPage } from '../dashboard/wire.js';

/** What the Audit tab shows: one entry's changes or all (''), one caller's or anyone's (''). */
export interface AuditFilter {
  readonly entry: string;
  readonly who: string;
}

/** The tab's address: `#/audit`, `#/audit/NAME`, either with `?who=WHO` (a name of the audit's own, spaces and all). */
export function auditHash(filter: AuditFilter): string {
  const path = filter.entry === '' ? '#/audit' : `#/audit/${encodeURIComponent(filter.entry)}`;
  return filter.who === '' ? path : `${path}?${new URLSearchParams({ who: filter.who }).toString()}`;
}

/** The filter a hash names (the part after `#/`, as typed: not yet decoded), or undefined when it is not the Audit tab's. */
export function auditRoute(raw: string): AuditFilter | undefined {
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  if (path !== 'audit' && !path.startsWith('audit/')) return undefined;
  const entry = path === 'audit' ? '' : decodeURIComponent(path.slice('audit/'.length));
  return { entry, who: q === -1 ? '' : (new URLSearchParams(raw.slice(q + 1)).get('who') ?? '') };
}

const clock = (iso: string): string => iso.slice(0, 19).replace('T', ' ');

function changesText(e: AuditEventView): string {
  return e.changes.map((c) => `${c.path}: ${c.before ?? '(none)'} → ${c.after ?? '(removed)'}`).join('\n');
}

function auditTable(events: readonly AuditEventView[], withEntry: boolean): HTMLElement {
  const head = ['When (UTC)', 'Who', 'Grant', ...(withEntry ? ['Entry'] : []), 'Action', 'Note', 'Changes'];
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'entries audit' },
      h('thead', {}, h('tr', {}, ...head.map((label) => h('th', { scope: 'col' }, label)))),
      h(
        'tbody',
        {},
        ...events.map((e) =>
          h(
            'tr',
            { 'data-audit-id': e.id, 'data-entry': e.entry, 'data-action': e.action },
            h('td', { 'data-label': 'When (UTC)' }, h('time', { datetime: e.at, title: e.at }, clock(e.at))),
            // A link to the caller's own changes: the filter takes the name exactly as the trail records it.
            h(
              'td',
              { 'data-label': 'Who', class: 'who' },
              h('a', { href: auditHash({ entry: '', who: e.who }), title: `Only the changes of ${e.who}` }, e.who),
            ),
            h('td', { 'data-label': 'Grant', class: 'grant' }, e.grant ?? ''),
            withEntry ? h('td', { 'data-label': 'Entry' }, h('a', { href: `#/entry/${encodeURIComponent(e.entry)}` }, e.entry)) : null,
            h('td', { 'data-label': 'Action', class: 'action' }, e.action, e.taskId === undefined ? '' : ` (${e.taskId})`),
            h('td', { 'data-label': 'Note', class: 'note-text' }, e.note ?? ''),
            h('td', { 'data-label': 'Changes', class: 'changes' }, changesText(e)),
          ),
        ),
      ),
    ),
  );
}

/**
 * Pages of the trail, `limit` events each, newest first: "Older" asks for the events before the
 * page's last id (the stream's own cursor), "Newest" starts again.
 */
function pagedAudit(entry: string | undefined, who: string | undefined, limit: number): HTMLElement {
  const wrap = h('div', { class: 'audit-pages' });
  const pages: (string | undefined)[] = [undefined];
  const show = async (): Promise<void> => {
    const before = pages[pages.length - 1];
    const p = new URLSearchParams({ limit: String(limit) });
    if (entry !== undefined) p.set('entry', entry);
    if (who !== undefined) p.set('who', who);
    if (before !== undefined) p.set('before', before);
    const page = await get<AuditPage>(`/api/audit?${p.toString()}`);
    const next = page.next;
    fill(
      wrap,
      page.events.length === 0
        ? h(
            'p',
            { class: 'hint' },
            pages.length > 1 ? 'No older change is kept.' : who === undefined ? 'No change recorded yet.' : `No change by ${who} is kept.`,
          )
        : auditTable(page.events, entry === undefined),
      h(
        'div',
        { class: 'pager' },
        h(
          'button',
          {
            type: 'button',
            disabled: pages.length === 1,
            onclick: () => {
              pages.length = 1;
              void show();
            },
          },
          '← Newest changes',
        ),
        h(
          'button',
          {
            type: 'button',
            disabled: next === undefined,
            onclick: () => {
              pages.push(next);
              void show();
            },
          },
          'Older changes →',
        ),
      ),
    );
  };
  void show().catch((error: unknown) => fill(wrap, h('p', { class: 'notice error' }, `The audit trail cannot be read: ${String(error)}`)));
  return wrap;
}

/** The entry's own recent changes (its page's Audit section). */
export function entryAudit(name: string): HTMLElement {
  return pagedAudit(name, undefined, 10);
}

/** The Audit tab: every change, newest first, 50 a page, filtered by an entry name and by who made it. */
export function auditView(root: HTMLElement, filter: AuditFilter): void {
  const entryInput = h('input', {
    type: 'search',
    name: 'entry',
    placeholder: 'entry name',
    'aria-label': 'Only the changes of this entry',
    value: filter.entry,
  });
  const whoInput = h('input', {
    type: 'search',
    name: 'who',
    placeholder: 'who (as the trail names them)',
    'aria-label': 'Only the changes made by',
    value: filter.who,
  });
  fill(
    root,
    h('h1', {}, 'Audit'),
    h(
      'p',
      { class: 'hint' },
      "Every change to an entry (create, update, delete, pause, resume, trigger), who made it, under which grant and why, newest first. Who is a token's name, a signed-in person (sso:subject <e-mail>) or the command line's user@host: click one to see only their changes. The same as beat audit --who and GET /api/audit?who=.",
    ),
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (e: Event) => {
          e.preventDefault();
          location.hash = auditHash({ entry: entryInput.value.trim(), who: whoInput.value.trim() });
        },
      },
      entryInput,
      whoInput,
      h('button', { type: 'submit' }, 'Filter'),
    ),
    pagedAudit(filter.entry === '' ? undefined : filter.entry, filter.who === '' ? undefined : filter.who, 50),
  );
}
