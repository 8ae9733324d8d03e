/**
 * The message templates the scheduler's renderer keeps (src/runtime/dispatch-window.ts): of the
 * entries rendered at an instant only those due again soon. A template made for one run renders the
 * same message as a kept one, with the same slot id.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { redisEnvelope } from '../../src/kombu/redis-envelope.js';
import { RunRenderer } from '../../src/runtime/dispatch-window.js';

const ENV = { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' };
const SLOT = Date.parse('2026-11-21T06:01:00.000Z');

function entries(n: number) {
  const beatSchedule: Record<string, unknown> = {};
  for (let i = 0; i < n; i += 1) beatSchedule[`tenant-${i}`] = { task: 'reports.daily', args: [i, `tenant-ü-${i}`], schedule: 60 };
  beatSchedule['with-kwargs'] = { task: 'reports.daily', args: [], kwargs: { a: 1 }, schedule: 60 };
  return parseConfig({ name: 'render', beatSchedule }, 'run-render.test');
}

describe('RunRenderer: the templates it keeps', () => {
  it('renders the same message, id and envelope whether the template is kept or made for the run', () => {
    const config = entries(3);
    const kept = new RunRenderer(config, ENV);
    const once = new RunRenderer(config, ENV);
    for (const entry of config.entries) {
      const [x, y] = [kept.render(entry, SLOT, SLOT + 5), once.render(entry, SLOT, SLOT + 5, false)];
      expect(y.message.id).toBe(x.message.id);
      expect(y.message.id).toBe(slotTaskId('render', entry.name, SLOT));
      expect(redisEnvelope(y.message, '', 'celery', 'tag')).toBe(redisEnvelope(x.message, '', 'celery', 'tag'));
      expect(y.message.headersJson).toBe(x.message.headersJson);
      // Rendered again: the kept template is the one used, the other is made anew, to the same message.
      expect(kept.render(entry, SLOT, SLOT + 5).message.template).toBe(x.message.template);
      expect(once.render(entry, SLOT, SLOT + 5, false).message.template).not.toBe(y.message.template);
    }
  });
});
