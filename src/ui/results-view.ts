/** Run results on the page: the state badge, the list's result cells, and the entry page's history table (paged). */
import { fill, h, relative } from './dom.js';
import type { ResultWire, RunWire } from '../dashboard/wire.js';

/** A run state as a coloured badge (class `run-<state>`). */
export function runBadge(state: string): HTMLElement {
  return h('span', { class: `badge run run-${state.toLowerCase()}`, 'data-state': state }, state);
}

/** "2.5 s", "1 min 3 s": a runtime. */
export function seconds(s: number | null): string {
  if (s === null) return '—';
  if (s < 60) return `${Number(s.toFixed(s < 10 ? 2 : 1))} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

const clock = (iso: string | null): string => (iso === null ? '—' : iso.slice(0, 19).replace('T', ' '));

/** The list's result cell: the last finished run's state and when; its exception on hover. */
export function resultCell(result: ResultWire | null, nowMs: number): (Node | string)[] {
  if (result === null) return ['—'];
  const last = result.last;
  if (last === null) return [result.running ? runBadge('PENDING') : '—'];
  const badge = runBadge(last.state);
  if (last.exception !== null) badge.setAttribute('title', last.exception);
  return [badge, ' ', last.atMs === null ? '' : h('time', { datetime: last.at ?? '', title: last.at ?? '' }, relative(last.atMs, nowMs))];
}

/** The list's success cell: the share of the kept runs that succeeded, and since when it fails. */
export function successCell(result: ResultWire | null): string {
  if (result === null || result.successRate === null) return '—';
  const rate = `${Math.round(result.successRate * 100)} % of ${result.finished}`;
  return result.failingSince === null ? rate : `${rate}; failing since ${clock(result.failingSince)}`;
}

const PAGE = 10;

/** The entry's kept runs as a table, ten a page, each with its task id to copy. */
export function historyTable(runs: readonly RunWire[]): HTMLElement {
  const wrap = h('div', { class: 'history' });
  const show = (offset: number): void => {
    const rows = runs.slice(offset, offset + PAGE).map((r) =>
      h(
        'tr',
        { 'data-task-id': r.taskId, 'data-by': r.by },
        h('td', { 'data-label': 'Slot' }, clock(r.slot), r.by === 'trigger' ? h('span', { class: 'mark' }, ' triggered') : null),
        h('td', { 'data-label': 'Published' }, clock(r.publishedAt)),
        h('td', { 'data-label': 'State' }, runBadge(r.state)),
        h('td', { 'data-label': 'Started' }, clock(r.startedAt)),
        h('td', { 'data-label': 'Finished' }, clock(r.finishedAt)),
        h('td', { 'data-label': 'Runtime' }, seconds(r.runtimeSeconds)),
        h('td', { 'data-label': 'Exception', class: 'exception' }, r.exception ?? ''),
        h(
          'td',
          { 'data-label': 'Task id' },
          h('code', { class: 'task-id' }, r.taskId),
          ' ',
          h(
            'button',
            {
              type: 'button',
              class: 'copy',
              'aria-label': `Copy task id ${r.taskId}`,
              onclick: (e: Event) => {
                const button = e.currentTarget as HTMLButtonElement;
                void navigator.clipboard?.writeText(r.taskId).then(() => (button.textContent = 'copied'));
              },
            },
            'copy',
          ),
        ),
      ),
    );
    const head = ['Slot', 'Published', 'State', 'Started', 'Finished', 'Runtime', 'Exception', 'Task id'];
    const last = Math.min(offset + PAGE, runs.length);
    fill(
      wrap,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'entries runs' },
          h('thead', {}, h('tr', {}, ...head.map((label) => h('th', { scope: 'col' }, label)))),
          h('tbody', {}, ...rows),
        ),
      ),
      runs.length <= PAGE
        ? null
        : h(
            'div',
            { class: 'pager' },
            h('span', { class: 'summary' }, `${offset + 1}–${last} of ${runs.length} kept`),
            h('button', { type: 'button', disabled: offset === 0, onclick: () => show(Math.max(0, offset - PAGE)) }, '← Newer'),
            h('button', { type: 'button', disabled: last >= runs.length, onclick: () => show(offset + PAGE) }, 'Older →'),
          ),
    );
  };
  show(0);
  return wrap;
}

/** A small bar chart of the runtimes of the finished runs, oldest on the left; failures in red. */
export function runtimeChart(runs: readonly RunWire[]): HTMLElement | null {
  const timed = runs.filter((r) => r.runtimeSeconds !== null).reverse();
  if (timed.length < 2) return null;
  const max = Math.max(...timed.map((r) => r.runtimeSeconds ?? 0), 0.001);
  return h(
    'div',
    {
      class: 'bars runtimes',
      role: 'img',
      'aria-label': `Runtimes of the last ${timed.length} finished runs, the longest ${seconds(max)}`,
    },
    ...timed.map((r) => {
      const bar = h('div', {
        class: `bar run-${r.state.toLowerCase()}`,
        title: `${clock(r.slot)}: ${r.state} ${seconds(r.runtimeSeconds)}`,
      });
      bar.style.setProperty('--h', `${(100 * (r.runtimeSeconds ?? 0)) / max}%`);
      return bar;
    }),
  );
}
