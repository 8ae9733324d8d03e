/** Run results on the page: the state badge, the list's result cells, and the entry page's history table (paged). */
import { breakable, fill, h, relative, svg } from './dom.js';
import type { PartWire, ResultWire, RunWire, SlotWire } from '../dashboard/wire.js';

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

/**
 * Failed runs in a row (what pauseOnFailure counts), with the entry's threshold: "2 failed runs in a
 * row; paused after 3"; null when none failed since its last success or resume, and none paused it.
 */
export function streakText(result: ResultWire | null, pauseOnFailure: number | null): string | null {
  const n = result?.failureStreak ?? 0;
  if (n === 0) return pauseOnFailure === null ? null : `pauseOnFailure: paused after ${pauseOnFailure} failed runs in a row (none now)`;
  const runs = `${n} failed run${n === 1 ? '' : 's'} in a row`;
  return pauseOnFailure === null ? runs : `${runs}; pauseOnFailure: paused after ${pauseOnFailure}`;
}

const BY_MARK: Readonly<Record<RunWire['by'], string | null>> = { schedule: null, trigger: 'triggered', backfill: 'backfilled' };

const PAGE = 10;

/** "3 parts: 1 SUCCESS, 2 FAILURE": a canvas run's parts counted by state, in the order they first appear. */
function partsSummary(parts: readonly PartWire[]): string {
  const counts = new Map<string, number>();
  for (const p of parts) counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
  const states = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
  return `${parts.length} part${parts.length === 1 ? '' : 's'}: ${states}`;
}

/**
 * A canvas run's parts, folded under a summary (a group of ten on each of ten runs would bury the
 * history): each part's path, task, state and what it gave, its result or the exception it failed
 * with. A row of its own under the run's, across the table.
 */
function partsRow(run: RunWire, parts: readonly PartWire[]): HTMLElement {
  const rows = parts.map((p) =>
    h(
      'tr',
      { 'data-part-path': p.path, 'data-part-id': p.id, title: `task id ${p.id}` },
      h('td', { 'data-label': 'Part' }, h('code', {}, p.path), p.final ? h('span', { class: 'mark' }, ' final') : null),
      h('td', { 'data-label': 'Task' }, ...breakable(p.task)),
      h('td', { 'data-label': 'State' }, runBadge(p.state)),
      h(
        'td',
        { 'data-label': 'Result or error', class: p.exception === undefined ? 'part-result' : 'part-result exception' },
        p.exception ?? (p.result === undefined ? '' : JSON.stringify(p.result)),
      ),
    ),
  );
  const head = ['Part', 'Task', 'State', 'Result or error'];
  return h(
    'tr',
    { class: 'run-parts', 'data-parts-of': run.taskId },
    h(
      'td',
      { colspan: '8', 'data-label': 'Parts' },
      h(
        'details',
        { class: 'parts' },
        h('summary', {}, partsSummary(parts)),
        h(
          'table',
          { class: 'entries parts' },
          h('thead', {}, h('tr', {}, ...head.map((label) => h('th', { scope: 'col' }, label)))),
          h('tbody', {}, ...rows),
        ),
      ),
    ),
  );
}

/** "attempt 2/3" (of those its policy allows), "attempt 2" without a policy. */
const attemptsText = (slot: SlotWire): string => `attempt ${slot.attemptCount}${slot.maxAttempts === null ? '' : `/${slot.maxAttempts}`}`;

/**
 * A retried slot's attempts, oldest first, in a row of their own under the slot's (whose state is
 * the last one's): each attempt's number, state, times, exception and task id. Not folded: there are
 * few, and they are why the slot ended as it did.
 */
function attemptsRow(slot: SlotWire): HTMLElement {
  const head = ['Attempt', 'State', 'Published', 'Finished', 'Runtime', 'Exception', 'Task id'];
  return h(
    'tr',
    { class: 'run-attempts', 'data-attempts-of': slot.slotTaskId },
    h(
      'td',
      { colspan: '8', 'data-label': 'Attempts' },
      h(
        'table',
        { class: 'entries attempts' },
        h('thead', {}, h('tr', {}, ...head.map((label) => h('th', { scope: 'col' }, label)))),
        h(
          'tbody',
          {},
          ...slot.attempts.map((a) =>
            h(
              'tr',
              { 'data-task-id': a.taskId, 'data-attempt': String(a.attempt) },
              h('td', { 'data-label': 'Attempt' }, `#${a.attempt}`),
              h('td', { 'data-label': 'State' }, runBadge(a.state)),
              h('td', { 'data-label': 'Published' }, clock(a.publishedAt)),
              h('td', { 'data-label': 'Finished' }, clock(a.finishedAt)),
              h('td', { 'data-label': 'Runtime' }, seconds(a.runtimeSeconds)),
              h('td', { 'data-label': 'Exception', class: 'exception' }, a.exception ?? ''),
              h('td', { 'data-label': 'Task id' }, h('code', { class: 'task-id' }, a.taskId)),
            ),
          ),
        ),
      ),
    ),
  );
}

/**
 * The entry's kept slots as a table, ten a page, each with its task id to copy, a retried slot's
 * attempts and a canvas run's parts under it.
 */
export function historyTable(runs: readonly SlotWire[]): HTMLElement {
  const wrap = h('div', { class: 'history' });
  const show = (offset: number): void => {
    const rows = runs.slice(offset, offset + PAGE).flatMap((r) => [
      h(
        'tr',
        { 'data-task-id': r.taskId, 'data-by': r.by },
        h('td', { 'data-label': 'Slot' }, clock(r.slot), BY_MARK[r.by] === null ? null : h('span', { class: 'mark' }, ` ${BY_MARK[r.by]}`)),
        h('td', { 'data-label': 'Published' }, clock(r.publishedAt)),
        h(
          'td',
          { 'data-label': 'State' },
          runBadge(r.state),
          r.attemptCount > 1 || r.maxAttempts !== null ? h('span', { class: 'mark' }, ` ${attemptsText(r)}`) : null,
        ),
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
      r.attempts.length > 1 || r.attemptCount > 1 ? attemptsRow(r) : null,
      r.parts === undefined || r.parts.length === 0 ? null : partsRow(r, r.parts),
    ]);
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
            h('span', { class: 'summary' }, `${offset + 1}–${last} of ${runs.length} slots kept`),
            h('button', { type: 'button', disabled: offset === 0, onclick: () => show(Math.max(0, offset - PAGE)) }, '← Newer'),
            h('button', { type: 'button', disabled: last >= runs.length, onclick: () => show(offset + PAGE) }, 'Older →'),
          ),
    );
  };
  show(0);
  return wrap;
}

/** Chart size in SVG units: it scales to the width of its box. */
const CHART_W = 480;
const CHART_H = 64;

/**
 * A small chart of the runtimes of the finished runs kept, oldest on the left, a bar each (failures
 * red), and the longest as the scale: inline SVG, built through the DOM like everything else.
 */
export function runtimeChart(runs: readonly RunWire[]): Element | null {
  const timed = runs.filter((r) => r.runtimeSeconds !== null).reverse();
  if (timed.length < 2) return null;
  let max = 0.001;
  for (const r of timed) max = Math.max(max, r.runtimeSeconds ?? 0);
  const step = CHART_W / timed.length;
  const gap = step > 4 ? 1 : 0;
  return svg(
    'svg',
    {
      class: 'runtimes',
      viewBox: `0 0 ${CHART_W} ${CHART_H}`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': `Runtimes of the last ${timed.length} finished runs, the longest ${seconds(max)}`,
    },
    svg('title', {}, `Runtimes of the last ${timed.length} finished runs (oldest left); the longest ${seconds(max)}`),
    svg('line', { class: 'axis', x1: 0, y1: CHART_H - 0.5, x2: CHART_W, y2: CHART_H - 0.5 }),
    ...timed.map((r, i) => {
      const height = Math.max(1, ((r.runtimeSeconds ?? 0) / max) * (CHART_H - 2));
      return svg(
        'rect',
        {
          class: `rt rt-${r.state.toLowerCase()}`,
          'data-task-id': r.taskId,
          x: (i * step).toFixed(2),
          y: (CHART_H - 1 - height).toFixed(2),
          width: Math.max(0.5, step - gap).toFixed(2),
          height: height.toFixed(2),
        },
        svg('title', {}, `${clock(r.slot)}: ${r.state} ${seconds(r.runtimeSeconds)}`),
      );
    }),
  );
}
