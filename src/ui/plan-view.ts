/**
 * The Plan tab: an owner's runtime entries kept as code, from the page. The entries an owner (a tool,
 * such as gitops) should hold are planned by POST /api/plan (what an apply would add, change and
 * remove, each entry's next fires before and after, the load before and after), then applied, after
 * a confirmation naming the counts, by POST /api/apply held to the plan's digest: a store changed
 * since the plan is refused (409 PLAN_STALE) with nothing written. The same as `beat plan --entries
 * FILE --owner NAME` and `beat apply --plan-digest D`.
 */
import { ApiError, noteHeader, post } from './api.js';
import { fill, h } from './dom.js';
import { errorText } from './entry-view.js';
import type { Notice } from './entry-view.js';
import type { OverviewWire, PlanItemWire, PlanLoadWire, PlanWire } from '../dashboard/wire.js';

/** Past this many entries that change, the table stops (the counts still count them all; `beat plan --json` lists every one). */
const SHOWN_ITEMS = 500;

/** The textarea's placeholder: the shape the API takes. */
const EXAMPLE = JSON.stringify(
  {
    'reports-nightly': { task: 'reports.build', schedule: '0 3 * * *' },
    'cache-warm': { task: 'cache.warm', schedule: '15m' },
  },
  null,
  2,
);

/** "2 to add, 1 to change, 0 to remove, 4 unchanged" (and the conflicts, when there are any). */
function countsText(plan: PlanWire): string {
  const { add, change, remove, unchanged, conflict } = plan.counts;
  const conflicts = conflict > 0 ? `, ${conflict} held by another owner or by none (a conflict)` : '';
  return `${add} to add, ${change} to change, ${remove} to remove, ${unchanged} unchanged${conflicts}`;
}

const minute = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')}Z`;
const second = (iso: string): string => `${iso.slice(0, 19).replace('T', ' ')}Z`;

/** The owner's runs over the window, now and after the apply: the totals and the busiest minute and second of each. */
function loadTable(load: NonNullable<PlanWire['load']>): HTMLElement {
  const row = (label: string, side: PlanLoadWire): HTMLElement =>
    h(
      'tr',
      { 'data-side': label.toLowerCase() },
      h('th', { scope: 'row' }, label),
      h('td', { 'data-label': 'Runs' }, side.total.toLocaleString('en-US')),
      h('td', { 'data-label': 'Busiest minute', class: 'peak-minute' }, `${side.peakMinute.runs} at ${minute(side.peakMinute.at)}`),
      h('td', { 'data-label': 'Busiest second', class: 'peak-second' }, `${side.peakSecond.runs} at ${second(side.peakSecond.at)}`),
      h('td', { 'data-label': 'Not counted' }, side.capped === 0 ? '' : `${side.capped} entries fire too often to count`),
    );
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'entries plan-load' },
      h('thead', {}, h('tr', {}, ...['', 'Runs', 'Busiest minute', 'Busiest second', ''].map((label) => h('th', { scope: 'col' }, label)))),
      h('tbody', {}, row('Now', load.before), row('After', load.after)),
    ),
  );
}

function changesText(item: PlanItemWire): string {
  const lines = (item.changes ?? []).map((c) => `${c.path}: ${c.before ?? '(none)'} → ${c.after ?? '(removed)'}`);
  if (item.kind !== undefined) lines.unshift(`schedule kind: ${item.kind.before} → ${item.kind.after}`);
  if (item.dropped !== undefined && item.dropped.length > 0) lines.push(`drops its ${item.dropped.join(', ')}`);
  if (item.action === 'conflict')
    lines.push(item.heldBy === null || item.heldBy === undefined ? 'held by no owner' : `held by owner ${item.heldBy}`);
  return lines.join('\n');
}

/** The entries the plan adds, changes, removes or cannot take, each with its fires before and after; the unchanged are only counted. */
function itemsTable(plan: PlanWire): HTMLElement {
  const items = plan.entries.filter((item) => item.action !== 'unchanged');
  if (items.length === 0) return h('p', { class: 'hint' }, 'Nothing to change: the store holds these entries as they are.');
  const fires = (list: readonly string[] | undefined): string => (list === undefined || list.length === 0 ? '—' : list.join('\n'));
  const head = ['Entry', 'Action', 'Changes', 'Next fires now', 'Next fires after'];
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'entries plan-items' },
      h('thead', {}, h('tr', {}, ...head.map((label) => h('th', { scope: 'col' }, label)))),
      h(
        'tbody',
        {},
        ...items
          .slice(0, SHOWN_ITEMS)
          .map((item) =>
            h(
              'tr',
              { 'data-entry': item.name, 'data-action': item.action },
              h('td', { 'data-label': 'Entry' }, item.name),
              h('td', { 'data-label': 'Action' }, h('span', { class: `badge plan-${item.action}` }, item.action)),
              h('td', { 'data-label': 'Changes', class: 'changes' }, changesText(item)),
              h('td', { 'data-label': 'Next fires now', class: 'fires-before' }, fires(item.firesBefore)),
              h('td', { 'data-label': 'Next fires after', class: 'fires-after' }, fires(item.firesAfter)),
            ),
          ),
      ),
    ),
    items.length > SHOWN_ITEMS
      ? h('p', { class: 'hint' }, `and ${items.length - SHOWN_ITEMS} more (beat plan --json lists every one)`)
      : null,
  );
}

/** An API's refusal as the page says it: the status and code first ("409 PLAN_STALE"), then the message and every problem. */
function refusalText(error: unknown): string {
  return error instanceof ApiError ? `${error.status} ${error.body.code}: ${errorText(error)}` : errorText(error);
}

/** The Plan tab; read-only (the reason, and how to enable it) when this browser may not write. */
export function planView(root: HTMLElement, overview: OverviewWire, notice: Notice): void {
  const intro = h(
    'p',
    { class: 'hint' },
    'The runtime entries an owner (a tool such as gitops) should hold: Plan shows what applying them would add, change and remove, ' +
      "with each entry's next fires and the load before and after; Apply makes the store hold them, all at once, after a confirmation, " +
      'and is refused when the store changed since the plan. Entries of another owner or of none are never touched. ' +
      'The same as beat plan --entries FILE --owner NAME and beat apply.',
  );
  if (overview.actions !== 'on') {
    fill(
      root,
      h('h1', {}, 'Plan and apply'),
      intro,
      h(
        'p',
        { class: 'hint read-only' },
        overview.actions === 'off'
          ? 'Read-only: start beat run with --api-token-file PATH (or BEAT_API_TOKEN) to plan and apply entries here.'
          : 'Log in with the API token (top right) to plan and apply entries.',
      ),
    );
    return;
  }
  const owner = h('input', {
    type: 'text',
    name: 'owner',
    required: true,
    'aria-label': 'Owner',
    placeholder: 'gitops',
    spellcheck: 'false',
  });
  const entries = h('textarea', {
    name: 'entries',
    rows: '14',
    'aria-label': 'The entries (JSON)',
    spellcheck: 'false',
    placeholder: EXAMPLE,
  });
  const problems = h('pre', { class: 'problems', role: 'alert' });
  const shown = h('div', { class: 'plan' });
  /** The body planned, sent again unchanged by Apply: what was reviewed is what is applied. */
  let planned: { owner: string; entries: unknown } | undefined;

  const show = (plan: PlanWire, body: { owner: string; entries: unknown }): void => {
    planned = body;
    const { add, change, remove, conflict } = plan.counts;
    const note = h('input', {
      type: 'text',
      name: 'note',
      class: 'note-field',
      maxlength: '500',
      placeholder: 'note (why), optional',
      'aria-label': 'Note for the audit trail (optional)',
    });
    const answer = h('p', { class: 'answer', role: 'status' });
    const apply = async (button: HTMLButtonElement): Promise<void> => {
      const what =
        `Apply the plan for owner ${plan.owner}? It adds ${add}, changes ${change} and removes ${remove} ` +
        `of the owner's entries, in one write.`;
      if (!window.confirm(what)) return;
      problems.textContent = '';
      button.disabled = true;
      try {
        const done = await post<PlanWire & { version: number }>(
          '/api/apply',
          { ...body, planDigest: plan.digest },
          noteHeader(note.value.trim()),
        );
        const c = done.counts;
        answer.textContent = `Applied for owner ${done.owner}: ${c.add} added, ${c.change} changed, ${c.remove} removed (store version ${done.version}).`;
        notice(answer.textContent);
        // Spent: a second apply would be held to a digest the store has moved past. Plan again to go on.
        button.remove();
        note.remove();
        planned = undefined;
      } catch (error) {
        button.disabled = false;
        problems.textContent = refusalText(error);
        if (error instanceof ApiError && error.body.code === 'PLAN_STALE') {
          // This plan can never be applied now: only a new one can.
          button.remove();
          note.remove();
          planned = undefined;
          answer.textContent = 'Nothing was applied: the store changed since this plan. Plan again and review it.';
        }
      }
    };
    const changes = add + change + remove;
    const applyBar =
      conflict > 0
        ? h(
            'p',
            { class: 'hint' },
            'Apply is refused while another owner or none holds a name: rename the entry, or delete or hand it over first.',
          )
        : changes === 0
          ? null
          : h(
              'div',
              { class: 'actions' },
              note,
              h(
                'button',
                {
                  type: 'button',
                  class: 'act',
                  'data-action': 'apply',
                  onclick: (event: Event) => void apply(event.currentTarget as HTMLButtonElement),
                },
                'Apply',
              ),
            );
    const horizon = plan.load === undefined ? '' : ` over the next ${Math.round(plan.load.horizonMs / 3_600_000)} h`;
    fill(
      shown,
      h('h2', {}, `Plan for owner ${plan.owner}`),
      h('p', { class: 'summary plan-counts', 'data-digest': plan.digest }, countsText(plan)),
      itemsTable(plan),
      plan.load === undefined ? null : h('h2', {}, `Load${horizon} (UTC)`),
      plan.load === undefined ? null : loadTable(plan.load),
      applyBar,
      answer,
    );
  };

  const send = async (event: Event): Promise<void> => {
    event.preventDefault();
    problems.textContent = '';
    shown.replaceChildren();
    planned = undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(entries.value);
    } catch (error) {
      problems.textContent = `The entries are not JSON: ${(error as Error).message}. Give an object of entry names to entries, {"name": {"task": …, "schedule": …}, …}.`;
      return;
    }
    // Whatever parses goes to the API, which names what is wrong with it (400, each problem with its place).
    const body = { owner: owner.value.trim(), entries: parsed };
    try {
      show(await post<PlanWire>('/api/plan', body), body);
    } catch (error) {
      problems.textContent = refusalText(error);
    }
  };

  const form = h(
    'form',
    {
      class: 'editor plan-form',
      onsubmit: (e: Event) => void send(e),
      // The plan shown is of what was sent: once the owner or the entries are edited it is stale, so Apply goes.
      oninput: () => {
        if (planned === undefined) return;
        planned = undefined;
        for (const el of shown.querySelectorAll('.actions'))
          el.replaceWith(h('p', { class: 'hint' }, 'Edited since this plan: plan again to apply.'));
      },
    },
    h('label', {}, 'Owner ', owner),
    h(
      'label',
      {},
      'Entries (JSON: an object of entry names to entries, as POST /api/plan takes; beat plan also reads YAML files) ',
      entries,
    ),
    problems,
    h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-action': 'plan' }, 'Plan')),
  );
  fill(root, h('h1', {}, 'Plan and apply'), intro, form, shown);
}
