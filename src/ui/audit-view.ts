/**
 * The audit trail on the page: the Audit tab (every change to every entry, newest first, paged,
 * filtered by entry) and an entry's own recent changes, both read from GET /api/audit, which the
 * dashboard's session (or loopback without a token) may read as the page's other reads.
 */
import { get } from './api.js';
import { fill, h } from './dom.js';
import type { AuditEventView, AuditPage } from '../dashboard/wire.js';

const clock = (iso: string): string => iso.slice(0, 19).replace('T', ' ');

function changesText(e: AuditEventView): string {
  return e.changes.map((c) => `${c.path}: ${c.before ?? '(none)'} → ${c.after ?? '(removed)'}`).join('\n');
}

function auditTable(events: readonly AuditEventView[], withEntry: boolean): HTMLElement {
  const head = ['When (UTC)', 'Who', ...(withEntry ? ['Entry'] : []), 'Action', 'Note', 'Changes'];
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
            h('td', { 'data-label': 'Who', class: 'who' }, e.who),
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
function pagedAudit(entry: string | undefined, limit: number): HTMLElement {
  const wrap = h('div', { class: 'audit-pages' });
  const pages: (string | undefined)[] = [undefined];
  const show = async (): Promise<void> => {
    const before = pages[pages.length - 1];
    const p = new URLSearchParams({ limit: String(limit) });
    if (entry !== undefined) p.set('entry', entry);
    if (before !== undefined) p.set('before', before);
    const page = await get<AuditPage>(`/api/audit?${p.toString()}`);
    const next = page.next;
    fill(
      wrap,
      page.events.length === 0
        ? h('p', { class: 'hint' }, pages.length > 1 ? 'No older change is kept.' : 'No change recorded yet.')
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
  return pagedAudit(name, 10);
}

/** The Audit tab: every change, newest first, 50 a page, filtered by an entry name. */
export function auditView(root: HTMLElement, entry: string): void {
  const results = h('div', {});
  const load = (name: string): void => results.replaceChildren(pagedAudit(name === '' ? undefined : name, 50));
  const input = h('input', {
    type: 'search',
    name: 'entry',
    placeholder: 'entry name',
    'aria-label': 'Only the changes of this entry',
    value: entry,
  });
  fill(
    root,
    h('h1', {}, 'Audit'),
    h(
      'p',
      { class: 'hint' },
      'Every change to an entry (create, update, delete, pause, resume, trigger), who made it and why, newest first. The same as beat audit and GET /api/audit.',
    ),
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const name = input.value.trim();
          location.hash = name === '' ? '#/audit' : `#/audit/${encodeURIComponent(name)}`;
        },
      },
      input,
      h('button', { type: 'submit' }, 'Filter'),
    ),
    results,
  );
  load(entry);
}
