/**
 * The deployment-wide stop on every page: while the deployment is stopped (`beat pause --all`), a red
 * banner above everything says who stopped it, since when and why, with "Resume all" for a logged-in
 * user; otherwise, for a logged-in user, a "Stop all…" control with a note. Both ask for a
 * confirmation first (window.confirm), as the bulk actions do.
 */
import { del, put } from './api.js';
import { h } from './dom.js';
import type { OverviewWire } from '../dashboard/wire.js';

type Notice = (text: string, kind?: 'ok' | 'error') => void;

export function stopBar(o: OverviewWire, notice: Notice, refresh: () => Promise<void>): void {
  const bar = document.getElementById('stop') as HTMLElement;
  const act = async (call: () => Promise<unknown>, done: string): Promise<void> => {
    try {
      await call();
      notice(done);
      await refresh();
    } catch (error) {
      notice(error instanceof Error ? error.message : String(error), 'error');
    }
  };
  const note = (): HTMLInputElement =>
    h('input', { type: 'text', name: 'stop-note', maxlength: '500', placeholder: 'note (why)', 'aria-label': 'Note' });
  if (o.stopped !== null) {
    const s = o.stopped;
    const resumeNote = note();
    bar.replaceChildren(
      h(
        'div',
        { class: 'stopped', role: 'alert' },
        h(
          'strong',
          {},
          `Deployment stopped by ${s.by} since ${s.since}${s.note === null ? '' : ` (note: ${s.note})`}: no replica publishes anything.`,
        ),
        o.actions === 'on'
          ? h(
              'form',
              {
                class: 'stop-form',
                onsubmit: (event: Event) => {
                  event.preventDefault();
                  if (!window.confirm(`Resume the deployment ${o.deployment}? Each entry catches up the slots that passed by its catchUp.`))
                    return;
                  const text = resumeNote.value.trim();
                  void act(() => del('/api/stop', text === '' ? {} : { note: text }), 'Deployment resumed');
                },
              },
              resumeNote,
              h('button', { type: 'submit' }, 'Resume all'),
            )
          : h('span', {}, " Resume with 'beat resume --all'."),
      ),
    );
    return;
  }
  if (o.actions !== 'on') {
    bar.replaceChildren();
    return;
  }
  const stopNote = note();
  bar.replaceChildren(
    h(
      'form',
      {
        class: 'stop-form idle',
        onsubmit: (event: Event) => {
          event.preventDefault();
          if (!window.confirm(`Stop the whole deployment ${o.deployment}? No replica publishes anything until it is resumed.`)) return;
          const text = stopNote.value.trim();
          void act(() => put('/api/stop', text === '' ? {} : { note: text }), 'Deployment stopped');
        },
      },
      stopNote,
      h('button', { type: 'submit', class: 'danger' }, 'Stop all…'),
    ),
  );
}
