/**
 * Which message templates the scheduler's renderer keeps (src/runtime/dispatch-window.ts): at most its
 * bound, and of the entries rendered at an instant only those due again soon. A template made for
 * one run renders the same message as a kept one, with the same slot id.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { redisEnvelope } from '../../src/kombu/redis-envelope.js';
import { TemplateRoom } from '../../src/runtime/process-budget.js';
import { RunRenderer } from '../../src/runtime/dispatch-window.js';
import type { MessageTemplate } from '../../src/celery/message.js';

const ENV = { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' };
const SLOT = Date.parse('2026-11-21T06:01:00.000Z');

function entries(n: number) {
  const beatSchedule: Record<string, unknown> = {};
  for (let i = 0; i < n; i += 1) beatSchedule[`tenant-${i}`] = { task: 'reports.daily', args: [i, `tenant-ü-${i}`], schedule: 60 };
  beatSchedule['with-kwargs'] = { task: 'reports.daily', args: [], kwargs: { a: 1 }, schedule: 60 };
  return parseConfig({ name: 'render', beatSchedule }, 'run-render.test');
}

describe('RunRenderer: the templates it keeps', () => {
  it('keeps at most its bound; past it, and for a run rendered with keep false, it compiles for the run alone', () => {
    const config = entries(5);
    const prepared: MessageTemplate[] = [];
    const renderer = new RunRenderer(config, ENV, { prepare: (t) => prepared.push(t) }, new TemplateRoom(3));
    const [a, b, c, d, e] = config.entries;
    if (!a || !b || !c || !d || !e) throw new Error('five entries');
    renderer.render(a, SLOT, SLOT, false);
    expect(renderer.isCompiled(a)).toBe(false);
    renderer.render(a, SLOT, SLOT);
    renderer.compile(b);
    renderer.compile(c);
    expect([a, b, c].map((x) => renderer.isCompiled(x))).toEqual([true, true, true]);
    expect(renderer.hasRoom()).toBe(false);
    renderer.compile(d);
    renderer.render(e, SLOT, SLOT);
    expect([d, e].map((x) => renderer.isCompiled(x))).toEqual([false, false]);
    // Every template made was handed to the dispatcher's prepare, kept or not.
    expect(prepared.map((t) => t.entry)).toEqual([a.name, a.name, b.name, c.name, d.name, e.name]);
    renderer.forget(b);
    expect(renderer.hasRoom()).toBe(true);
  });

  it('renders the same message, id and envelope whether the template is kept or made for the run', () => {
    const config = entries(3);
    const kept = new RunRenderer(config, ENV, undefined);
    const once = new RunRenderer(config, ENV, undefined, new TemplateRoom(0));
    for (const entry of config.entries) {
      const [x, y] = [kept.render(entry, SLOT, SLOT + 5), once.render(entry, SLOT, SLOT + 5)];
      expect(kept.isCompiled(entry)).toBe(true);
      expect(once.isCompiled(entry)).toBe(false);
      expect(y.message.id).toBe(x.message.id);
      expect(y.message.id).toBe(slotTaskId('render', entry.name, SLOT));
      expect(redisEnvelope(y.message, '', 'celery', 'tag')).toBe(redisEnvelope(x.message, '', 'celery', 'tag'));
      expect(y.message.headersJson).toBe(x.message.headersJson);
    }
  });
});
