/** One entry's page: state, actions, next fires (DST changes marked), definition, message, history, and the editor of a runtime entry. */
import { ApiError, apiEntryPath, del, entryPath, get, post, put } from './api.js';
import { fill, h, jsonBlock, relative } from './dom.js';
import { lastRunOf, outcomeText, unconsumedText } from './entries-view.js';
import { definitionSection, firesSection } from './definition-view.js';
import { fetchStrips, legend, strip } from './strips-view.js';
import { historyTable, resultCell, runtimeChart, streakText, successCell } from './results-view.js';
import { entryAudit } from './audit-view.js';
import { BACKFILL_OVERLAP_NAMES } from '../dashboard/wire.js';
import type { DetailWire, OverviewWire } from '../dashboard/wire.js';

export interface Notice {
  (text: string, kind?: 'ok' | 'error'): void;
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    const problems = error.body.problems ?? [];
    return [error.body.error, ...problems.map((p) => `${p.path}: ${p.message}`)].join('\n');
  }
  return error instanceof Error ? error.message : String(error);
}

function actions(detail: DetailWire, overview: OverviewWire, notice: Notice, reload: () => Promise<void>): HTMLElement {
  const name = detail.row.name;
  if (overview.actions !== 'on') {
    return h(
      'p',
      { class: 'hint' },
      overview.actions === 'off'
        ? 'Read-only: start beat run with --api-token-file PATH (or BEAT_API_TOKEN) to pause, resume and trigger from here.'
        : 'Log in with the API token (top right) to pause, resume or trigger this entry.',
    );
  }
  // Why: kept with the pause (shown while it lasts), and in the audit trail with who did it.
  const note = h('input', {
    type: 'text',
    name: 'note',
    class: 'note-field',
    maxlength: '500',
    placeholder: 'note (why), optional',
    'aria-label': 'Note for the audit trail (optional)',
  });
  const run = async (verb: 'pause' | 'resume' | 'trigger'): Promise<void> => {
    try {
      const text = note.value.trim();
      const answer = await post<{ state?: string; taskId?: string; refusal?: string }>(
        `${apiEntryPath(name)}/${verb}`,
        text === '' ? {} : { note: text },
      );
      if (verb === 'trigger')
        notice(
          answer.state === 'published'
            ? `Triggered: task id ${answer.taskId}`
            : answer.state === 'refused'
              ? `Trigger refused: ${answer.refusal ?? ''}`
              : `Trigger requested (task id ${answer.taskId}); no leader has published it yet`,
          answer.state === 'refused' ? 'error' : undefined,
        );
      else notice(verb === 'pause' ? 'Paused' : 'Resumed');
      await reload();
    } catch (error) {
      notice(errorText(error), 'error');
    }
  };
  const act = (verb: 'pause' | 'resume' | 'trigger') => (): void => void run(verb);
  const paused = detail.row.state === 'paused';
  return h(
    'div',
    { class: 'actions' },
    note,
    paused
      ? h('button', { type: 'button', class: 'act', 'data-action': 'resume', onclick: act('resume') }, 'Resume')
      : h(
          'button',
          { type: 'button', class: 'act', 'data-action': 'pause', onclick: act('pause'), disabled: detail.row.state !== 'active' },
          'Pause',
        ),
    h(
      'button',
      { type: 'button', class: 'act', 'data-action': 'trigger', onclick: act('trigger'), disabled: detail.row.state === 'invalid' },
      'Trigger now',
    ),
    detail.row.state === 'invalid' ? null : backfillForm(name, notice, reload),
  );
}

interface BackfillAnswer {
  readonly id?: string;
  readonly done?: boolean;
  readonly published?: number;
  readonly skipped?: { recorded: number; excluded: number; ahead: number; unrecorded: number; overlap?: number };
  readonly overlapPolicy?: string;
  readonly error?: string;
  readonly slots?: string[];
  readonly excluded?: string[];
  /** A dry run's page is not the last: more slots follow this instant. */
  readonly next?: string;
}

/** How often, and for how long, the page asks how far a backfill the leader has not finished yet went (as `beat backfill` waits by default). */
const BACKFILL_POLL_MS = 500;
const BACKFILL_WAIT_MS = 120_000;

/** The backfill's answer once the leader finished it, or the last progress when the page stops asking. */
async function finished(name: string, first: BackfillAnswer, progress: (answer: BackfillAnswer) => void): Promise<BackfillAnswer> {
  let answer = first;
  const deadline = Date.now() + BACKFILL_WAIT_MS;
  while (answer.done !== true && answer.error === undefined && answer.id !== undefined && Date.now() < deadline) {
    progress(answer);
    await new Promise((resolve) => setTimeout(resolve, BACKFILL_POLL_MS));
    answer = await get<BackfillAnswer>(`${apiEntryPath(name)}/backfill/${encodeURIComponent(answer.id)}`);
  }
  return answer;
}

/** Backfill: the slots of a past range that never ran, published once each (POST …/backfill, as `beat backfill`). */
function backfillForm(name: string, notice: Notice, reload: () => Promise<void>): HTMLElement {
  const from = h('input', { type: 'text', name: 'from', placeholder: '2026-11-20T00:00:00Z', 'aria-label': 'Backfill from (ISO 8601)' });
  const to = h('input', { type: 'text', name: 'to', placeholder: '2026-11-21T00:00:00Z', 'aria-label': 'Backfill to (ISO 8601)' });
  const dryRun = h('input', { type: 'checkbox', name: 'dryRun', 'aria-label': 'Dry run' });
  // The entry's own policy unless another is chosen (as beat backfill --overlap).
  const overlap = h(
    'select',
    { name: 'overlap', 'aria-label': 'Overlap policy' },
    h('option', { value: '' }, "entry's own"),
    ...BACKFILL_OVERLAP_NAMES.map((policy) => h('option', { value: policy }, policy)),
  );
  const send = async (event: Event): Promise<void> => {
    event.preventDefault();
    try {
      const first = await post<BackfillAnswer>(`${apiEntryPath(name)}/backfill`, {
        from: from.value.trim(),
        to: to.value.trim(),
        dryRun: dryRun.checked,
        ...(overlap.value === '' ? {} : { overlap: overlap.value }),
      });
      const answer = await finished(name, first, (p) =>
        notice(`Backfill requested; the leader has not finished it yet (published ${p.published ?? 0} so far)`),
      );
      if (answer.slots !== undefined) {
        notice(
          `Dry run: ${answer.next === undefined ? '' : 'the first '}${answer.slots.length} slots${answer.excluded?.length ? ` (${answer.excluded.length} excluded)` : ''}${answer.next === undefined ? '' : ` (more after ${answer.next})`}: ${answer.slots.slice(0, 20).join(', ')}${answer.slots.length > 20 ? ', …' : ''}`,
        );
        return;
      }
      if (answer.error !== undefined) {
        notice(`Backfill refused: ${answer.error}`, 'error');
        return;
      }
      const skipped = answer.skipped;
      const byOverlap = skipped?.overlap ?? 0;
      const count = skipped === undefined ? 0 : skipped.recorded + skipped.excluded + skipped.ahead + skipped.unrecorded + byOverlap;
      // The POST's answer says which policy applied (200 or 202); the progress asked for afterwards does not.
      const applied = first.overlapPolicy ?? answer.overlapPolicy;
      const policy = applied === undefined ? '' : `; overlap ${applied}`;
      // Drawn again first, so that the answer shown stands beside the page it describes (and a
      // range typed after it is not lost to the redraw).
      await reload();
      notice(
        answer.done === true
          ? `Backfilled: published ${answer.published ?? 0}, skipped ${count}${byOverlap > 0 ? ` (${byOverlap} by the overlap policy, still passed over)` : ''}${policy}`
          : `Backfill requested; the leader has not finished it yet (published ${answer.published ?? 0} so far)`,
      );
    } catch (error) {
      notice(errorText(error), 'error');
    }
  };
  return h(
    'form',
    { class: 'backfill', 'data-action': 'backfill', onsubmit: (e: Event) => void send(e) },
    h('label', {}, 'From ', from),
    h('label', {}, 'To ', to),
    h('label', {}, 'Overlap ', overlap),
    h('label', {}, dryRun, ' dry run'),
    h('button', { type: 'submit', class: 'act' }, 'Backfill'),
  );
}

/** The editor of a runtime-store entry: its definition as JSON, sent to the entries API; its problems shown as the API names them. */
export function entryEditor(name: string | null, initial: unknown, notice: Notice, done: (name: string | null) => void): HTMLElement {
  const nameInput = h('input', {
    type: 'text',
    name: 'name',
    required: true,
    'aria-label': 'Entry name',
    value: name ?? '',
    readonly: name !== null,
  });
  const text = h('textarea', { name: 'definition', rows: '12', 'aria-label': 'Entry definition (JSON)', spellcheck: 'false' });
  text.value = JSON.stringify(initial, null, 2);
  const problems = h('pre', { class: 'problems', role: 'alert' });
  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    problems.textContent = '';
    let body: unknown;
    try {
      body = JSON.parse(text.value);
    } catch (error) {
      problems.textContent = `Not JSON: ${(error as Error).message}`;
      return;
    }
    const target = nameInput.value.trim();
    try {
      await put(apiEntryPath(target), body);
      notice(`Saved ${target}`);
      done(target);
    } catch (error) {
      problems.textContent = errorText(error);
    }
  };
  return h(
    'form',
    { class: 'editor', onsubmit: (e: Event) => void save(e) },
    h('label', {}, 'Name ', nameInput),
    h('label', {}, 'Definition (JSON) ', text),
    problems,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit' }, 'Save'),
      h('button', { type: 'button', onclick: () => done(name) }, 'Cancel'),
    ),
  );
}

/**
 * The entry's detail. An entry saved a moment ago (the editor goes to its page at once) reaches the
 * scheduler's catalog within a second, sooner when the store's notice arrives: an unknown entry is
 * asked for again for a few seconds before the page says so.
 */
async function detailOf(name: string): Promise<DetailWire> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await get<DetailWire>(entryPath(name));
    } catch (error) {
      if (!(error instanceof ApiError && error.body.code === 'UNKNOWN_ENTRY') || attempt >= UNKNOWN_ENTRY_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** 250 ms apart: about 5 s. */
const UNKNOWN_ENTRY_ATTEMPTS = 20;

/** The past as strips (the last day, the last hour): fetched on the side, filled in when they arrive. */
function pastStrips(name: string): HTMLElement {
  const pastSection = h('div', { class: 'strips-past' });
  void Promise.all([fetchStrips([name], 'day'), fetchStrips([name], 'hour')]).then(([day, hour]) =>
    pastSection.replaceChildren(
      h('p', { class: 'hint' }, 'The last 24 hours, a cell per 15 minutes:'),
      strip(day, name, `${name}: the last 24 hours`),
      h('p', { class: 'hint' }, 'The last hour, a cell per minute:'),
      strip(hour, name, `${name}: the last hour`),
      legend(),
    ),
  );
  return pastSection;
}

/** Edit and Delete, for a runtime entry when actions are on: the editor opens in `editing`. */
function editButtons(
  detail: DetailWire,
  overview: OverviewWire,
  notice: Notice,
  editing: HTMLElement,
  reload: () => Promise<void>,
): HTMLElement | null {
  if (!(detail.editable && overview.actions === 'on')) return null;
  const name = detail.row.name;
  return h(
    'div',
    { class: 'actions' },
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          // The entry as it was written (the config-file form), not as tsbeat resolved it.
          const { name: _n, origin: _o, ...resolved } = detail.definition;
          editing.replaceChildren(entryEditor(name, detail.stored ?? resolved, notice, () => void reload()));
        },
      },
      'Edit',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        onclick: () => {
          if (!window.confirm(`Delete the runtime entry "${name}"?`)) return;
          del(apiEntryPath(name))
            .then(() => {
              notice(`Deleted ${name}`);
              location.hash = '#/';
            })
            .catch((error: unknown) => notice(errorText(error), 'error'));
        },
      },
      'Delete',
    ),
  );
}

/** The entry's own facts (source, task, schedule, state, next and last run, runs), as dt/dd pairs. */
function rowFacts(row: DetailWire['row'], nowMs: number): HTMLElement[] {
  const outcome = outcomeText(row);
  const view = row.view;
  const next = view?.nextRun ?? null;
  const last = lastRunOf(view);
  const unconsumed = unconsumedText(view);
  const pauseNote = view?.pauseNote ?? null;
  return (
    [
      ['Source', row.origin],
      ['Task', view?.canvas ?? view?.task ?? ''],
      ['Queue', view?.queue ?? ''],
      ['Schedule', view?.schedule ?? ''],
      ['Zone', view?.timezone ?? ''],
      ['State', row.state],
      ...(unconsumed === null ? [] : ([['Unconsumed', unconsumed]] as const)),
      ...(pauseNote === null ? [] : ([['Paused', `by ${pauseNote.by} at ${pauseNote.at}: ${pauseNote.note}`]] as const)),
      ['Next run', next === null || row.nextMs === null ? '—' : `${next} (${relative(row.nextMs, nowMs)})`],
      ['Last run', last === null ? '—' : `${last}${view?.lastRunBy === 'trigger' ? ' (trigger)' : ''}${outcome ? ` — ${outcome}` : ''}`],
      ['Runs', String(view?.runCount ?? 0)],
    ] as const
  ).flatMap(([k, v]) => [h('dt', {}, k), h('dd', { 'data-fact': k }, v)]);
}

/** The outcomes' facts (result, last success and failure, success rate, failure streak), when followed, and the last note. */
function outcomeFacts(detail: DetailWire, nowMs: number): HTMLElement[] {
  const lastNote = detail.row.view?.lastNote;
  const streak = streakText(detail.result, detail.row.view?.pauseOnFailure ?? null);
  return [
    ...(detail.result === null
      ? []
      : [
          h('dt', {}, 'Result'),
          h('dd', { class: 'result' }, ...resultCell(detail.result, nowMs)),
          h('dt', {}, 'Last success'),
          h('dd', { class: 'last-success' }, detail.result.lastSuccess ?? '— (none kept)'),
          h('dt', {}, 'Last failure'),
          h('dd', { class: 'last-failure' }, detail.result.lastFailure ?? '— (none kept)'),
          h('dt', {}, 'Success'),
          h('dd', {}, successCell(detail.result)),
        ]),
    ...(streak === null ? [] : [h('dt', {}, 'Failures'), h('dd', { class: 'streak' }, streak)]),
    ...(lastNote == null
      ? []
      : [
          h('dt', {}, 'Last note'),
          h('dd', { class: 'last-note' }, `${lastNote.action} by ${lastNote.by} at ${lastNote.at}: ${lastNote.note}`),
        ]),
  ];
}

/** The run history: a runtime chart and a table, or why there is none. */
function historySection(detail: DetailWire): HTMLElement {
  return detail.history === null
    ? h(
        'p',
        { class: 'hint' },
        'No run history is kept: outcomes are followed only when the config has a resultBackend or reads task events (taskEvents is not false).',
      )
    : detail.history.length === 0
      ? h('p', { class: 'hint' }, 'No run recorded yet.')
      : h('div', {}, runtimeChart(detail.history), historyTable(detail.history));
}

/** The entry's changes: a link to all of them, and the latest. */
function auditSection(name: string): HTMLElement[] {
  return [
    h('h2', {}, 'Audit'),
    h(
      'p',
      { class: 'hint' },
      h('a', { href: `#/audit/${encodeURIComponent(name)}` }, 'All changes of this entry'),
      ' (also beat audit ',
      name,
      ')',
    ),
    entryAudit(name),
  ];
}

export async function entryView(root: HTMLElement, name: string, overview: OverviewWire, notice: Notice): Promise<void> {
  const detail = await detailOf(name);
  const reload = (): Promise<void> => entryView(root, name, overview, notice);
  const row = detail.row;
  const nowMs = overview.nowMs;
  const editing = h('div', {});
  const pastSection = pastStrips(name);
  fill(
    root,
    h('p', {}, h('a', { href: '#/' }, '← All entries')),
    h('h1', { class: 'entry-name' }, row.name),
    h('dl', { class: 'facts' }, ...rowFacts(row, nowMs), ...outcomeFacts(detail, nowMs)),
    row.problems.length > 0 ? h('ul', { class: 'problems' }, ...row.problems.map((p) => h('li', {}, `${p.path}: ${p.message}`))) : null,
    actions(detail, overview, notice, reload),
    editButtons(detail, overview, notice, editing, reload),
    editing,
    h('h2', {}, 'The past'),
    pastSection,
    h('h2', {}, 'History'),
    historySection(detail),
    ...auditSection(name),
    ...firesSection(detail),
    ...definitionSection(detail),
    // Paused, disabled or run out, an entry has no next run: its message is what a manual run sends.
    h('h2', {}, row.nextMs === null ? 'Message of a manual run' : 'Message of the next run'),
    h(
      'p',
      { class: 'hint' },
      row.nextMs === null
        ? 'No run is scheduled; this is what Trigger now (beat trigger) would send, as the worker receives it.'
        : 'As the worker receives it (the form beat run --dry-run prints).',
    ),
    jsonBlock(detail.message),
  );
}
