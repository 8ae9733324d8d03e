/** The entry list: search, filters, sortable columns and pages, each page fetched from /ui/api/entries. */
import { ApiError, get, post } from './api.js';
import { SCHEDULE_SEPARATORS, breakable, fill, h, relative } from './dom.js';
import type { Child } from './dom.js';
import { resultCell, successCell } from './results-view.js';
import { fetchStrips, strip } from './strips-view.js';
import type { EntryView, PageWire, RowWire } from '../dashboard/wire.js';

const PAGE = 100;

interface ListState {
  q: string;
  state: string;
  origin: string;
  queue: string;
  /** A label selector (team=billing,tier!=batch), read by the server. */
  selector: string;
  failing: boolean;
  sort: string;
  desc: boolean;
  offset: number;
}

const state: ListState = { q: '', state: '', origin: '', queue: '', selector: '', failing: false, sort: 'name', desc: false, offset: 0 };

const COLUMNS: readonly (readonly [key: string, label: string])[] = [
  ['name', 'Name'],
  ['origin', 'Source'],
  ['task', 'Task'],
  ['queue', 'Queue'],
  ['schedule', 'Schedule'],
  ['zone', 'Zone'],
  ['labels', 'Labels'],
  ['next', 'Next run'],
  ['last', 'Last run'],
  ['result', 'Result'],
  ['success', 'Success'],
  ['past', 'Past day'],
  ['state', 'State'],
];
const SORTABLE = new Set(['name', 'origin', 'task', 'queue', 'zone', 'next', 'last', 'result', 'success', 'state']);

function query(): string {
  const p = new URLSearchParams({ offset: String(state.offset), limit: String(PAGE), sort: state.sort });
  if (state.desc) p.set('desc', '1');
  if (state.q) p.set('q', state.q);
  if (state.state) p.set('state', state.state);
  if (state.origin) p.set('origin', state.origin);
  if (state.queue) p.set('queue', state.queue);
  if (state.selector) p.set('selector', state.selector);
  if (state.failing) p.set('failing', '1');
  return p.toString();
}

/** The state of the newest run, as the view gives it (its `lastOutcome`), or ''. */
export function outcomeText(row: RowWire): string {
  return row.view?.lastOutcome?.state ?? '';
}

/** The last run: its slot, or when a manual run was published; null before any. */
export function lastRunOf(view: EntryView | null): string | null {
  if (view === null) return null;
  return view.lastRunBy === 'trigger' ? view.lastPublishedAt : view.lastSlot;
}

/** Nobody consumes its queue: why and since when; null otherwise. */
export function unconsumedText(view: EntryView | null): string | null {
  return view?.unconsumed == null ? null : `${view.unconsumed.reason} since ${view.unconsumed.since}`;
}

/** Nobody consumes the entry's queue: its own colour, the reason on hover. */
export function unconsumedBadge(reason: string): HTMLElement {
  return h('span', { class: 'badge unconsumed', title: reason }, 'unconsumed');
}

/** The state; a paused entry's note (why, who) on hover and after it, shortened. */
function stateBadge(row: RowWire): (HTMLElement | string)[] {
  const note = row.view?.pauseNote ?? null;
  const badge = h('span', { class: `badge ${row.state}`, title: note === null ? undefined : `${note.by}: ${note.note}` }, row.state);
  const unconsumed = unconsumedText(row.view);
  if (unconsumed !== null) return [badge, ' ', unconsumedBadge(unconsumed)];
  if (note === null) return [badge];
  const text = note.note.length > 40 ? `${note.note.slice(0, 39)}…` : note.note;
  return [badge, ' ', h('span', { class: 'note', title: `paused by ${note.by} at ${note.at}: ${note.note}` }, `${note.by}: ${text}`)];
}

function rowView(row: RowWire, nowMs: number): HTMLTableRowElement {
  const outcome = outcomeText(row);
  const view = row.view;
  const next = view?.nextRun ?? null;
  const last = lastRunOf(view);
  return h(
    'tr',
    { 'data-entry': row.name },
    h(
      'td',
      { 'data-label': 'Name' },
      h('a', { href: `#/entry/${encodeURIComponent(row.name)}`, class: 'entry-link' }, ...breakable(row.name)),
    ),
    h('td', { 'data-label': 'Source' }, row.origin),
    h('td', { 'data-label': 'Task' }, h('code', {}, ...breakable(view?.canvas ?? view?.task ?? ''))),
    h('td', { 'data-label': 'Queue' }, ...breakable(view?.queue ?? '')),
    h(
      'td',
      { 'data-label': 'Schedule' },
      // An rrule's words are one long token (RRULE:FREQ=WEEKLY;BYDAY=MO,FR;…): without its breaks the table ran off the page.
      ...(row.problems.length > 0
        ? [row.problems.map((p) => `${p.path}: ${p.message}`).join('; ')]
        : breakable(view?.schedule ?? '', SCHEDULE_SEPARATORS)),
    ),
    h('td', { 'data-label': 'Zone' }, ...breakable(view?.timezone ?? '')),
    h('td', { 'data-label': 'Labels', class: 'labels' }, ...labelChips(view?.labels ?? {})),
    h(
      'td',
      { 'data-label': 'Next run' },
      next === null || row.nextMs === null
        ? '—'
        : h('time', { datetime: next, title: next }, ...instantText(next), ` (${relative(row.nextMs, nowMs)})`),
    ),
    h(
      'td',
      { 'data-label': 'Last run' },
      ...(last === null ? ['—'] : [...instantText(last), view?.lastRunBy === 'trigger' ? ' (trigger)' : '']),
      row.result === null && outcome ? h('span', { class: `outcome ${outcome.toLowerCase()}` }, ` ${outcome}`) : null,
    ),
    h('td', { 'data-label': 'Result' }, ...resultCell(row.result, nowMs)),
    h('td', { 'data-label': 'Success' }, successCell(row.result)),
    h('td', { 'data-label': 'Past day', class: 'past' }),
    h('td', { 'data-label': 'State' }, ...stateBadge(row)),
  );
}

/** An entry's labels, one `key=value` each, in key order. */
function labelChips(labels: Readonly<Record<string, string>>): HTMLElement[] {
  return Object.keys(labels)
    .sort()
    .map((key) => h('span', { class: 'label' }, `${key}=${labels[key] ?? ''}`));
}

type Refresh = () => Promise<void>;

/** A filter of a fixed set of values (State, Source): a change shows the first page. */
function choice(label: string, key: 'state' | 'origin', options: string[], refresh: Refresh): HTMLLabelElement {
  return h(
    'label',
    {},
    `${label} `,
    h(
      'select',
      {
        name: key,
        onchange: (e: Event) => {
          state[key] = (e.target as HTMLSelectElement).value;
          state.offset = 0;
          void refresh();
        },
      },
      ...['', ...options].map((o) => h('option', { value: o, selected: state[key] === o }, o === '' ? 'any' : o)),
    ),
  );
}

/** The typed filters (search, queue): the list follows 200 ms after the last key. */
function typedFilters(refresh: Refresh): HTMLInputElement[] {
  let timer: number | undefined;
  const later = (): void => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      state.offset = 0;
      void refresh();
    }, 200);
  };
  const typed = (attrs: Record<string, string>, key: 'q' | 'queue' | 'selector', trim: boolean): HTMLInputElement =>
    h('input', {
      ...attrs,
      value: state[key],
      oninput: (e: Event) => {
        const value = (e.target as HTMLInputElement).value;
        state[key] = trim ? value.trim() : value;
        later();
      },
    });
  return [
    typed(
      { type: 'search', name: 'q', placeholder: 'name, task or queue', 'aria-label': 'Search entries by name, task or queue' },
      'q',
      false,
    ),
    typed({ type: 'text', name: 'queue', placeholder: 'queue', 'aria-label': 'Only entries of this queue' }, 'queue', true),
    typed(
      {
        type: 'text',
        name: 'selector',
        placeholder: 'labels: team=billing,tier!=batch',
        'aria-label': 'Only entries these labels select (a Kubernetes label selector)',
      },
      'selector',
      true,
    ),
  ];
}

/** The filter bar: the typed filters, State, Source and "failing". */
function filterBar(refresh: Refresh): HTMLElement {
  return h(
    'div',
    { class: 'filters' },
    ...typedFilters(refresh),
    choice('State', 'state', ['active', 'paused', 'disabled', 'invalid'], refresh),
    choice('Source', 'origin', ['file', 'store', 'redbeat', 'django'], refresh),
    h(
      'label',
      {},
      h('input', {
        type: 'checkbox',
        name: 'failing',
        checked: state.failing,
        onchange: (e: Event) => {
          state.failing = (e.target as HTMLInputElement).checked;
          state.offset = 0;
          void refresh();
        },
      }),
      ' failing (failed runs in a row)',
    ),
  );
}

/** The column headers; a sortable one is a button that sorts by it, again the other way. */
function header(columns: typeof COLUMNS, refresh: Refresh): HTMLTableSectionElement {
  return h(
    'thead',
    {},
    h(
      'tr',
      {},
      ...columns.map(([key, label]) => {
        if (!SORTABLE.has(key)) return h('th', { scope: 'col' }, label);
        const active = state.sort === key;
        return h(
          'th',
          { scope: 'col', 'aria-sort': active ? (state.desc ? 'descending' : 'ascending') : 'none' },
          h(
            'button',
            {
              type: 'button',
              class: 'sort',
              onclick: () => {
                if (state.sort === key) state.desc = !state.desc;
                else {
                  state.sort = key;
                  state.desc = false;
                }
                void refresh();
              },
            },
            label,
            active ? (state.desc ? ' ▼' : ' ▲') : '',
          ),
        );
      }),
    ),
  );
}

/** The strips of the rows on screen only, after the rows: a slow read does not hold the list back. */
function pastDayStrips(table: HTMLTableElement, rows: readonly RowWire[]): void {
  const names = rows.filter((r) => r.state !== 'invalid').map((r) => r.name);
  if (names.length === 0) return;
  void fetchStrips(names, 'day').then((s) => {
    for (const name of names) {
      const cell = table.querySelector(`tr[data-entry="${CSS.escape(name)}"] td.past`);
      cell?.replaceChildren(strip(s, name, `${name}: the last 24 hours`));
    }
  });
}

/** Which rows are shown of how many, and Previous / Next. */
function pageMoves(summary: HTMLElement, pager: HTMLElement, page: PageWire, refresh: Refresh): void {
  const last = Math.min(page.offset + page.rows.length, page.matched);
  summary.textContent =
    page.matched === 0
      ? `No entry matches (of ${page.total}).`
      : `${page.offset + 1}–${last} of ${page.matched} matching (${page.total} entries)`;
  const move = (offset: number) => () => {
    state.offset = offset;
    void refresh();
  };
  pager.replaceChildren(
    h('button', { type: 'button', disabled: page.offset === 0, onclick: move(Math.max(0, page.offset - PAGE)) }, '← Previous'),
    h('button', { type: 'button', disabled: last >= page.matched, onclick: move(page.offset + PAGE) }, 'Next →'),
  );
}

/**
 * With a selector: the actions on every entry it selects, each after a confirmation that names the
 * count; the server refuses (409) when the selection is no longer that count.
 */
function bulkBar(bar: HTMLElement, selector: string, matched: number, refresh: Refresh): void {
  if (selector === '' || matched === 0) {
    bar.hidden = true;
    bar.replaceChildren();
    return;
  }
  const answer = h('span', { class: 'answer', role: 'status' });
  const act = (verb: 'pause' | 'resume' | 'trigger', label: string) => async (): Promise<void> => {
    const what = `${label} the ${matched} ${matched === 1 ? 'entry' : 'entries'} the selector ${selector} selects?`;
    if (!window.confirm(what)) return;
    try {
      const done = await post<{ entries: string[]; changed?: string[] }>(`/api/selected/${verb}?selector=${encodeURIComponent(selector)}`, {
        count: matched,
      });
      await refresh();
      // The refresh drew the bar again: the answer goes into the new one.
      const shown = bar.querySelector('.answer');
      if (shown !== null)
        shown.textContent =
          verb === 'trigger'
            ? `Triggered ${done.entries.length}: ${done.entries.join(', ')}`
            : `${verb === 'pause' ? 'Paused' : 'Resumed'} ${done.changed?.length ?? 0} of ${done.entries.length}`;
    } catch (error) {
      answer.textContent = error instanceof ApiError ? error.body.error : String(error);
    }
  };
  bar.hidden = false;
  bar.replaceChildren(
    `${matched} selected by ${selector}: `,
    h('button', { type: 'button', 'data-bulk': 'pause', onclick: () => void act('pause', 'Pause')() }, 'Pause all'),
    ' ',
    h('button', { type: 'button', 'data-bulk': 'resume', onclick: () => void act('resume', 'Resume')() }, 'Resume all'),
    ' ',
    h('button', { type: 'button', 'data-bulk': 'trigger', onclick: () => void act('trigger', 'Trigger')() }, 'Trigger all'),
    ' ',
    answer,
  );
}

/** The list. */
export function entriesView(root: HTMLElement): { refresh(): Promise<void> } {
  const table = h('table', { class: 'entries' });
  const summary = h('p', { class: 'summary', 'aria-live': 'polite' });
  const pager = h('div', { class: 'pager' });
  const refused = h('p', { class: 'notice error', role: 'alert', hidden: true });
  const bulk = h('div', { class: 'bulk', hidden: true });
  // An answer to a list asked before the newest (filters, sort or page changed since, as a selector
  // is typed, or a periodic refresh overtaken) is not drawn: the newest draws, and the bulk bar never
  // pairs one list's count with another's selector.
  let newest = 0;
  const refresh = async (): Promise<void> => {
    const asked = (newest += 1);
    const selector = state.selector;
    let page: PageWire;
    try {
      page = await get<PageWire>(`/ui/api/entries?${query()}`);
    } catch (error) {
      if (asked !== newest) return;
      // A query the server refuses (a selector that does not parse, a sort too costly for this
      // deployment): its message names the parameter, the position and the rule.
      if (!(error instanceof ApiError) || error.body.code !== 'API_BAD_REQUEST') throw error;
      refused.textContent = error.body.error;
      refused.hidden = false;
      // The bar of the last selector that parsed would act on a selector no longer in the field.
      bulkBar(bulk, '', 0, refresh);
      return;
    }
    if (asked !== newest) return;
    refused.hidden = true;
    bulkBar(bulk, selector, page.matched, refresh);
    table.replaceChildren(header(COLUMNS, refresh), h('tbody', {}, ...page.rows.map((r) => rowView(r, page.nowMs))));
    pastDayStrips(table, page.rows);
    pageMoves(summary, pager, page, refresh);
  };
  fill(root, h('h1', {}, 'Entries'), filterBar(refresh), refused, bulk, summary, h('div', { class: 'table-wrap' }, table), pager);
  return { refresh };
}

/** An ISO instant as the table shows it, "2026-11-25 17:05:05": it may wrap between the date and the time, never inside the date. */
function instantText(iso: string): Child[] {
  return [h('span', { class: 'nowrap' }, iso.slice(0, 10)), ` ${iso.slice(11, 19)}`];
}
