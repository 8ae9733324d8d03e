/**
 * The Dead letters tab (issue 70; docs/outcomes.md, "The dead-letter list"): the slots that failed for
 * good, oldest first, as GET /api/dead-letters gives them to the session (only the entries its grants
 * may read), each with Replay and Discard for a logged-in user, behind a confirmation
 * (window.confirm), as the other actions. A replay publishes the slot's message again, once, through
 * the leader; the item leaves the list either way (a replay the leader drops unpublished puts it back).
 * The notice says what the answer says: published or refused by the leader (200), or queued for it (202).
 */
import { get, post } from './api.js';
import { h } from './dom.js';
import type { DeadLetterView, OverviewWire } from '../dashboard/wire.js';

type Notice = (text: string, kind?: 'ok' | 'error') => void;

/** POST …/replay's answer (operations/door.ts VERBS.replay): one run per item. */
interface ReplayAnswer {
  readonly replayed?: readonly { readonly state?: string; readonly refusal?: string }[];
}

const path = (id: string, verb: 'replay' | 'discard'): string => `/api/dead-letters/${encodeURIComponent(id)}/${verb}`;

export async function deadLettersView(root: HTMLElement, o: OverviewWire, notice: Notice): Promise<void> {
  let items: readonly DeadLetterView[];
  try {
    items = (await get<{ deadLetters: DeadLetterView[] }>('/api/dead-letters')).deadLetters;
  } catch (error) {
    root.replaceChildren(
      h('h1', {}, 'Dead letters'),
      h('p', { class: 'notice error' }, `The dead-letter list cannot be read: ${error instanceof Error ? error.message : String(error)}`),
    );
    return;
  }
  const act = async (d: DeadLetterView, verb: 'replay' | 'discard'): Promise<void> => {
    const question =
      verb === 'replay'
        ? `Replay ${d.entry}'s slot ${d.slot}? Its message is published again, once, through the leader, and the item leaves the list.`
        : `Discard ${d.entry}'s slot ${d.slot}? The item leaves the list and nothing is published.`;
    if (!window.confirm(question)) return;
    try {
      const answer = await post<ReplayAnswer>(path(d.id, verb));
      if (verb === 'discard') notice(`Discarded ${d.entry} (${d.slot})`);
      else {
        const run = answer.replayed?.[0];
        if (run?.state === 'published') notice(`Replayed ${d.entry} (${d.slot})`);
        else if (run?.state === 'refused')
          notice(`The leader refused the replay of ${d.entry} (${d.slot}): ${run.refusal ?? ''}; the item is back on the list`, 'error');
        // 202: no leader published it within the wait; one will (or puts the item back should it drop it).
        else notice(`The replay of ${d.entry} (${d.slot}) is queued for the leader`);
      }
    } catch (error) {
      notice(error instanceof Error ? error.message : String(error), 'error');
    }
    await deadLettersView(root, o, notice);
  };
  const head = ['Entry', 'Slot (UTC)', 'Attempts', 'Ended', 'Exception', 'ID', ...(o.actions === 'on' ? [''] : [])];
  root.replaceChildren(
    h('h1', {}, 'Dead letters'),
    h(
      'p',
      { class: 'hint' },
      "The slots whose run failed for good (its retry attempts exhausted, or a failure with deadLetter: true), oldest first, of the entries you may read; the list keeps deadLetters.maxItems of them. Replay publishes the slot's message again, once; Discard removes it. The same as beat dead-letter list|replay|discard and /api/dead-letters.",
    ),
    items.length === 0
      ? h('p', { class: 'hint' }, 'The dead-letter list is empty.')
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'entries dead-letters' },
            h('thead', {}, h('tr', {}, ...head.map((label) => h('th', { scope: 'col' }, label)))),
            h(
              'tbody',
              {},
              ...items.map((d) =>
                h(
                  'tr',
                  { 'data-dead-letter': d.id, 'data-entry': d.entry },
                  h('td', { 'data-label': 'Entry' }, h('a', { href: `#/entry/${encodeURIComponent(d.entry)}` }, d.entry)),
                  h('td', { 'data-label': 'Slot (UTC)' }, h('time', { datetime: d.slot, title: `failed for good at ${d.at}` }, d.slot)),
                  h('td', { 'data-label': 'Attempts' }, String(d.attempts)),
                  h('td', { 'data-label': 'Ended' }, d.end),
                  h('td', { 'data-label': 'Exception', class: 'note-text' }, d.exception ?? ''),
                  h('td', { 'data-label': 'ID', class: 'grant' }, d.id),
                  o.actions === 'on'
                    ? h(
                        'td',
                        { class: 'actions' },
                        h('button', { type: 'button', onclick: () => void act(d, 'replay') }, 'Replay…'),
                        h('button', { type: 'button', class: 'danger', onclick: () => void act(d, 'discard') }, 'Discard…'),
                      )
                    : null,
                ),
              ),
            ),
          ),
        ),
  );
}
