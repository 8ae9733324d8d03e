/**
 * ReadFirst: a leader's read of its runtime entries before it publishes, bounded. A catalog written
 * for the test stands in (its refresh resolves when the test says); timers are vitest's.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { createLogger } from '../../src/base/log.js';
import { ReadFirst } from '../../src/runtime/read-first.js';

function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) },
  });
  return { lines, logger };
}

/**
 * A catalog whose looks end when `end()` is called; `origin` is the source it is reading meanwhile.
 * Its check (outdated) answers `outdated` at once, or, when that is 'hang', when `end()` is called (true).
 */
function slowCatalog(origin: string | undefined, outdated: boolean | 'hang' = false) {
  const pending: (() => void)[] = [];
  let refreshes = 0;
  let checks = 0;
  return {
    catalog: {
      refresh: (): Promise<void> => {
        refreshes += 1;
        return new Promise<void>((resolve) => pending.push(resolve));
      },
      outdated: (): Promise<boolean> => {
        checks += 1;
        if (outdated !== 'hang') return Promise.resolve(outdated);
        return new Promise<boolean>((resolve) => pending.push(() => resolve(true)));
      },
      reading: () => (origin === undefined ? undefined : { origin, sinceMs: 0 }),
    },
    refreshes: () => refreshes,
    checks: () => checks,
    end: () => {
      for (const resolve of pending.splice(0)) resolve();
    },
  };
}

const DUE = new Map([['django' as const, ['a']]]);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('ReadFirst', () => {
  it('waits for the look when it ends in time, and says nothing', async () => {
    const { lines, logger } = captureLogs();
    const slow = slowCatalog('django');
    const readFirst = new ReadFirst({ catalog: slow.catalog, logger, maxMs: 5000 });
    let done = false;
    const reading = readFirst.read().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(4000);
    expect(done).toBe(false);
    slow.end();
    await reading;
    expect(lines.filter((l) => l['event'] === EVENTS.entriesReadLate)).toEqual([]);
  });

  it('goes on after maxMs when a source does not answer, naming it, and does not wait for that look again', async () => {
    const { lines, logger } = captureLogs();
    const slow = slowCatalog('django');
    const readFirst = new ReadFirst({ catalog: slow.catalog, logger, maxMs: 5000 });
    let done = false;
    const reading = readFirst.read().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(4999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await reading;
    expect(lines.filter((l) => l['event'] === EVENTS.entriesReadLate)).toMatchObject([{ level: 'warn', waitedMs: 5000, origin: 'django' }]);
    // The next publish does not wait for the same hung look, nor start another behind it.
    await readFirst.read();
    expect(slow.refreshes()).toBe(1);
    // Once the look ends, the next gap is read again.
    slow.end();
    await vi.advanceTimersByTimeAsync(0);
    const again = readFirst.read();
    expect(slow.refreshes()).toBe(2);
    slow.end();
    await again;
    expect(lines.filter((l) => l['event'] === EVENTS.entriesReadLate)).toHaveLength(1);
  });

  it('checks the entries due and reads nothing when they did not change', async () => {
    const { lines, logger } = captureLogs();
    const slow = slowCatalog('django', false);
    const readFirst = new ReadFirst({ catalog: slow.catalog, logger, maxMs: 5000 });
    await readFirst.check(DUE);
    expect(slow.checks()).toBe(1);
    expect(slow.refreshes()).toBe(0);
    expect(lines.filter((l) => l['event'] === EVENTS.entriesReadLate)).toEqual([]);
  });

  it('reads the sources again before it resolves when the check says they changed', async () => {
    const { logger } = captureLogs();
    const slow = slowCatalog('redbeat', true);
    const readFirst = new ReadFirst({ catalog: slow.catalog, logger, maxMs: 5000 });
    let done = false;
    const checking = readFirst.check(DUE).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(1000);
    expect(slow.refreshes()).toBe(1);
    expect(done).toBe(false);
    slow.end();
    await checking;
  });

  it('bounds a check that hangs as it bounds a read, and does not wait for it again while it hangs', async () => {
    const { lines, logger } = captureLogs();
    const slow = slowCatalog('django', 'hang');
    const readFirst = new ReadFirst({ catalog: slow.catalog, logger, maxMs: 5000 });
    const checking = readFirst.check(DUE);
    await vi.advanceTimersByTimeAsync(5000);
    await checking;
    expect(lines.filter((l) => l['event'] === EVENTS.entriesReadLate)).toMatchObject([{ waitedMs: 5000, origin: 'django' }]);
    // The next publishes go on at once, without another check behind the hung one.
    await readFirst.check(DUE);
    await readFirst.read();
    expect(slow.checks()).toBe(1);
    expect(slow.refreshes()).toBe(0);
  });
});
