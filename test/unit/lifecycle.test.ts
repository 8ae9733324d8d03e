/** The lifecycle scope (base/lifecycle.ts): reverse order, a failing or hanging step does not keep the rest from stopping. */
import { describe, expect, it } from 'vitest';
import { LifecycleScope } from '../../src/base/lifecycle.js';
import { EVENTS } from '../../src/base/log-events.js';
import { createLogger } from '../../src/base/log.js';
import { lateInForce } from '../../src/service/in-force-view.js';

function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) },
  });
  return { lines, logger };
}

describe('LifecycleScope', () => {
  it('stops the steps in the reverse order they were added, each after the one before has finished', async () => {
    const { logger } = captureLogs();
    const scope = new LifecycleScope({ logger });
    const seen: string[] = [];
    for (const name of ['connections', 'outcomes', 'leadership', 'watch']) {
      scope.add(name, async () => {
        seen.push(`${name} begins`);
        await new Promise((resolve) => setImmediate(resolve));
        seen.push(`${name} ends`);
      });
    }
    await scope.stopAll();
    expect(seen).toEqual([
      'watch begins',
      'watch ends',
      'leadership begins',
      'leadership ends',
      'outcomes begins',
      'outcomes ends',
      'connections begins',
      'connections ends',
    ]);
  });

  it('logs a step that throws or rejects and still runs the rest', async () => {
    const { lines, logger } = captureLogs();
    const scope = new LifecycleScope({ logger });
    const seen: string[] = [];
    scope.add('connections', () => void seen.push('connections'));
    scope.add('catalog', () => Promise.reject(new Error('catalog refused')));
    scope.add('watch', () => {
      throw new Error('watch threw');
    });
    await scope.stopAll();
    expect(seen).toEqual(['connections']);
    expect(
      lines
        .filter((l) => l['event'] === EVENTS.stopStepFailed)
        .map((l) => [l['step'], (l['err'] as { message?: string }).message, l['level']]),
    ).toEqual([
      ['watch', 'watch threw', 'warn'],
      ['catalog', 'catalog refused', 'warn'],
    ]);
  });

  it('gives up waiting for a step that hangs after its bound and runs the rest', async () => {
    const { lines, logger } = captureLogs();
    const scope = new LifecycleScope({ logger, stepMs: 50 });
    const seen: string[] = [];
    scope.add('connections', () => void seen.push('connections'));
    scope.add('leadership', () => new Promise<void>(() => undefined));
    await scope.stopAll();
    expect(seen).toEqual(['connections']);
    expect(lines.find((l) => l['event'] === EVENTS.stopStepFailed)).toMatchObject({ step: 'leadership', waitedMs: 50 });
  });

  it('stops once: a second stopAll gets the first one, and nothing may be added after', async () => {
    const { logger } = captureLogs();
    const scope = new LifecycleScope({ logger });
    let stops = 0;
    scope.add('connections', () => void (stops += 1));
    const first = scope.stopAll();
    expect(scope.stopAll()).toBe(first);
    await first;
    expect(stops).toBe(1);
    expect(() => scope.add('late', () => undefined)).toThrow('lifecycle: "late" added after stopAll');
  });
});

describe('lateInForce', () => {
  it('refuses a read before the runtime is bound, then reads through to it', async () => {
    const late = lateInForce();
    expect(() => late.view.leading()).toThrow(
      'service wiring: the runtime (the config in force, leading, the states, the runs followed) asked for before it was made',
    );
    const states = new Map([['a', { seenMs: 1 }]]);
    const run = { entry: 'a', record: { taskId: 't1' } as never };
    late.bind({
      supervisor: { config: { auditMaxEvents: 7 } as never, leading: true },
      states: { readAll: () => Promise.resolve(states as never) },
      unfinished: () => [run],
    });
    expect([late.view.leading(), late.view.config().auditMaxEvents, late.view.unfinished()]).toEqual([true, 7, [run]]);
    expect(await late.view.states.readAll()).toBe(states);
  });
});
