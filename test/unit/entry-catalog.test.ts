/**
 * The catalog of runtime entries, fed by a source written for the test (an in-memory EntrySource:
 * the port's contract, not Redis's; test/integration/runtime-entries.test.ts runs the real store).
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/base/log.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import type { EntryChanges, EntrySnapshot, EntrySource, SourcedEntry } from '../../src/ports/entry-source.js';
import { EntryCatalog } from '../../src/runtime/entry-catalog.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { queueNameContext } from '../../src/config/queue-names.js';

/** A source holding entries in memory, with a version per change, as the store's contract says. */
class MemorySource implements EntrySource {
  private version = 0;
  private readonly entries = new Map<string, { value: unknown; version: number; incarnation: string }>();
  private readonly deleted = new Map<string, number>();
  failNext = false;
  /** changesSince fails this many times more (a sync that keeps failing, then recovers). */
  failChanges = 0;

  constructor(readonly origin: EntrySource['origin'] = 'store') {}

  put(name: string, value: unknown, incarnation = '1'): void {
    this.version += 1;
    this.entries.set(name, { value, version: this.version, incarnation });
    this.deleted.delete(name);
  }

  delete(name: string): void {
    this.version += 1;
    this.entries.delete(name);
    this.deleted.set(name, this.version);
  }

  private sourced(name: string): SourcedEntry {
    const held = this.entries.get(name);
    if (held === undefined) throw new Error(name);
    const parsed = parseEntryDefinition(held.value);
    return parsed.ok
      ? { name, entry: parsed.entry, incarnation: held.incarnation }
      : { name, problems: parsed.problems, incarnation: held.incarnation };
  }

  load(): Promise<EntrySnapshot> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('unreachable'));
    }
    return Promise.resolve({ entries: [...this.entries.keys()].map((n) => this.sourced(n)), cursor: String(this.version) });
  }

  changesSince(cursor: string): Promise<EntryChanges> {
    if (this.failChanges > 0) {
      this.failChanges -= 1;
      return Promise.reject(new RangeError('Maximum call stack size exceeded'));
    }
    const since = Number(cursor);
    const changed = [...this.entries].filter(([, e]) => e.version > since).map(([n]) => this.sourced(n));
    const removed = [...this.deleted].filter(([, v]) => v > since).map(([n]) => n);
    return Promise.resolve({ changed, removed, cursor: String(this.version) });
  }
}

const silent = createLogger({ level: 'silent' });
const names = (entries: readonly ResolvedEntry[]): string[] => entries.map((e) => e.name).sort();

function catalogOf(source: MemorySource, staticNames: string[] = []): EntryCatalog {
  return new EntryCatalog({
    sources: [source],
    logger: silent,
    intervalMs: 60_000,
    defaults: { zone: 'Europe/Berlin', deployment: 'default' },
    staticNames: new Set(staticNames),
  });
}

describe('EntryCatalog', () => {
  it('keeps valid entries, reports invalid ones and those with a config-file name, and resolves zones', async () => {
    const source = new MemorySource();
    source.put('ok', { task: 't', schedule: { cron: '0 3 * * *' } });
    source.put('bad', { task: 't', schedule: { cron: '0 25 * * *' } });
    source.put('nightly', { task: 't', schedule: 60 });
    const catalog = catalogOf(source, ['nightly']);
    await catalog.load();
    expect(names(catalog.entries())).toEqual(['ok']);
    expect(catalog.find('ok')).toMatchObject({ origin: 'store', timezone: 'Europe/Berlin' });
    const problems = new Map(catalog.problems().map((p) => [p.name, p.problems]));
    expect(problems.get('bad')?.[0]?.path).toBe('schedule.cron');
    expect(problems.get('nightly')?.[0]?.message).toMatch(/taken by a config-file entry/);
  });

  it('hands the listener only what changed, and a re-created entry as removed and changed', async () => {
    const source = new MemorySource();
    source.put('a', { task: 't', schedule: 60 });
    source.put('b', { task: 't', schedule: 60 });
    const catalog = catalogOf(source);
    await catalog.load();
    const told: { changed: string[]; removed: string[] }[] = [];
    const gone: string[][] = [];
    catalog.listen((changed, removed) => {
      told.push({ changed: names(changed), removed: [...removed].sort() });
      return Promise.resolve();
    });
    catalog.onRemoved((n) => gone.push([...n]));
    source.put('a', { task: 't', schedule: 30 });
    source.put('c', { task: 't', schedule: 60 });
    source.put('b', { task: 't', schedule: 60 }, '2');
    await catalog.load();
    source.delete('c');
    await catalog.load();
    // The same definition written again (a new version, nothing different) changes nothing.
    source.put('a', { task: 't', schedule: 30 });
    await catalog.load();
    expect(told).toEqual([
      { changed: ['a', 'b', 'c'], removed: ['b'] },
      { changed: [], removed: ['c'] },
    ]);
    expect(gone).toEqual([['b'], ['c']]);
  });

  it('decides a large load and a reload in slices, serving the event loop between them (a lock renewal waits on it)', async () => {
    const source = new MemorySource();
    const n = DEFAULTS.loopSlice * 3 + 1;
    for (let i = 0; i < n; i += 1) source.put(`tenant-${i}`, { task: 't', schedule: 60 });
    const catalog = catalogOf(source);
    /** Turns of the event loop served while `work` runs (its own awaits are microtasks only: none without slices). */
    const turnsDuring = async (work: Promise<void>): Promise<number> => {
      let turns = 0;
      let done = false;
      const spin = (): void => {
        if (done) return;
        turns += 1;
        setImmediate(spin);
      };
      setImmediate(spin);
      await work;
      done = true;
      return turns;
    };
    expect(await turnsDuring(catalog.load())).toBeGreaterThanOrEqual(3);
    expect(catalog.entries()).toHaveLength(n);
    expect(catalog.find('tenant-0')?.timezone).toBe('Europe/Berlin');
    expect(
      await turnsDuring(catalog.reconfigure({ zone: 'Asia/Tokyo', deployment: 'default' }, new Set(['tenant-1']))),
    ).toBeGreaterThanOrEqual(3);
    // Applied whole once it resolves.
    expect(catalog.entries()).toHaveLength(n - 1);
    expect(catalog.find(`tenant-${n - 1}`)?.timezone).toBe('Asia/Tokyo');
    expect(catalog.problems().map((p) => p.name)).toEqual(['tenant-1']);
  });

  it('issue 30, scenario 5: a name a source reports both changed and removed in one look (deleted and created again) is re-created, not removed', async () => {
    const parsed = parseEntryDefinition({ task: 't', schedule: 60 });
    if (!parsed.ok) throw new Error('bad test entry');
    let look = 0;
    // What django's source says of a row deleted and created again between two looks: the name
    // changed (the new row's id) and removed (the old row's id).
    const source: EntrySource = {
      origin: 'django',
      load: () => Promise.resolve({ entries: [{ name: 'row', entry: parsed.entry, incarnation: '1' }], cursor: '0' }),
      changesSince: () => {
        look += 1;
        return Promise.resolve({
          changed: [{ name: 'row', entry: parsed.entry, incarnation: '2' }],
          removed: ['row'],
          cursor: String(look),
        });
      },
    };
    const catalog = new EntryCatalog({
      sources: [source],
      logger: silent,
      intervalMs: 60_000,
      defaults: { zone: 'UTC', deployment: 'default' },
      staticNames: new Set(),
    });
    await catalog.load();
    const told: { changed: string[]; removed: string[] }[] = [];
    catalog.listen((changed, removed) => {
      told.push({ changed: names(changed), removed: [...removed] });
      return Promise.resolve();
    });
    await catalog.load();
    expect(catalog.find('row')?.incarnation).toBe('2');
    expect(told).toEqual([{ changed: ['row'], removed: ['row'] }]);
  });

  it('gives a listener that failed everything again at the next look, and keeps what it knows while a source fails', async () => {
    const source = new MemorySource();
    source.put('a', { task: 't', schedule: 60 });
    const fresh = new MemorySource();
    fresh.failNext = true;
    const catalog = new EntryCatalog({
      sources: [source, fresh],
      logger: silent,
      intervalMs: 60_000,
      defaults: { zone: 'UTC', deployment: 'default' },
      staticNames: new Set(),
    });
    await catalog.load();
    expect(names(catalog.entries())).toEqual(['a']);
    let fail = true;
    const told: string[][] = [];
    catalog.listen((changed) => {
      told.push(names(changed));
      if (fail) return Promise.reject(new Error('redis down'));
      return Promise.resolve();
    });
    source.put('b', { task: 't', schedule: 60 });
    await catalog.load();
    fail = false;
    await catalog.load();
    expect(told).toEqual([['b'], ['a', 'b']]);
  });

  it('retries a failed sync on its own with a backoff, says so once, names it while it lasts; a delete made meanwhile takes effect', async () => {
    const source = new MemorySource();
    source.put('a', { task: 't', schedule: 60 });
    source.put('b', { task: 't', schedule: 60 });
    const lines: { event?: string; msg?: string }[] = [];
    let clock = 1_000_000;
    const catalog = new EntryCatalog({
      sources: [source],
      logger: createLogger({
        level: 'warn',
        destination: { write: (line: string) => void lines.push(JSON.parse(line) as { event?: string }) },
      }),
      // Only the backoff can bring the retries here: the interval is far away, and nobody pokes.
      intervalMs: 60_000,
      retryMinMs: 20,
      now: () => clock,
      defaults: { zone: 'UTC', deployment: 'default' },
      staticNames: new Set(),
    });
    await catalog.load();
    let appliedRemovals: string[] = [];
    let listenerFails = 1;
    const looked: number[] = [];
    catalog.listen((_changed, removed) => {
      looked.push(Date.now());
      if (listenerFails > 0) {
        listenerFails -= 1;
        return Promise.reject(new Error('the runner is busy'));
      }
      appliedRemovals = [...removed];
      return Promise.resolve();
    });
    catalog.start();
    source.failChanges = 4;
    source.delete('b');
    clock += 5_000;
    catalog.poke();
    await expectEventually(() => catalog.outOfSync() !== undefined);
    expect(catalog.outOfSync()).toEqual({
      sinceMs: 1_005_000,
      reason: expect.stringContaining('the store entries cannot be read: Maximum call stack') as unknown,
    });
    // Four failed reads, then the listener fails once, then it is applied: all by the retry timer.
    await expectEventually(() => appliedRemovals.length > 0, 5_000);
    expect(appliedRemovals).toEqual(['b']);
    expect(names(catalog.entries())).toEqual(['a']);
    expect(catalog.outOfSync()).toBeUndefined();
    expect(looked.length).toBe(2);
    // Each failure said once, not at every retry.
    expect(lines.filter((l) => l.event === 'beat.entries.sync_failed').length).toBe(2);
    await catalog.stop();
  });
});

describe('EntryCatalog and a source that does not answer', () => {
  it('names the source it is reading, and says it is out of sync once the read has taken longer than DEFAULTS.readFirstMaxMs', async () => {
    const source = new MemorySource();
    source.put('a', { task: 't', schedule: 60 });
    let clock = 1_000_000;
    const catalog = new EntryCatalog({
      sources: [source],
      logger: silent,
      intervalMs: 60_000,
      defaults: { zone: 'UTC', deployment: 'default' },
      staticNames: new Set(),
      now: () => clock,
    });
    await catalog.load();
    expect(catalog.reading()).toBeUndefined();
    // A database that accepts the query and never replies: the read neither answers nor fails.
    source.changesSince = () => new Promise<EntryChanges>(() => undefined);
    void catalog.refresh();
    await expectEventually(() => catalog.reading() !== undefined);
    expect(catalog.reading()).toEqual({ origin: 'store', sinceMs: 1_000_000 });
    clock += DEFAULTS.readFirstMaxMs;
    expect(catalog.outOfSync()).toBeUndefined();
    clock += 1;
    expect(catalog.outOfSync()).toEqual({ sinceMs: 1_000_000, reason: 'the store entries are being read and do not answer' });
    // What it knew stays in force meanwhile.
    expect(names(catalog.entries())).toEqual(['a']);
  });
});

describe('EntryCatalog and the config calendars', () => {
  it('resolves a runtime entry exclude with the config calendars, and refuses a calendar the config lacks', async () => {
    const source = new MemorySource();
    source.put('daily', { task: 't', schedule: { cron: '0 9 * * *' }, exclude: ['holidays'] });
    source.put('typo', { task: 't', schedule: { cron: '0 9 * * *' }, exclude: ['holidayz'] });
    const calendars = parseEntryDefinition({ task: 't', schedule: 1, exclude: ['2026-12-25'] });
    if (!calendars.ok) throw new Error('calendar items must parse');
    const catalog = new EntryCatalog({
      sources: [source],
      logger: silent,
      intervalMs: 60_000,
      defaults: { zone: 'Europe/Berlin', deployment: 'default', calendars: { holidays: calendars.entry.exclude ?? [] } },
      staticNames: new Set(),
    });
    await catalog.load();
    expect(names(catalog.entries())).toEqual(['daily']);
    expect(catalog.find('daily')?.exclude?.words).toEqual(['calendar holidays (1 exclusion)']);
    expect(catalog.problems()).toEqual([
      expect.objectContaining({
        name: 'typo',
        problems: [{ path: 'exclude', message: 'unknown calendar "holidayz"; the config\'s calendars are holidays' }],
      }),
    ]);
  });
});
async function expectEventually(done: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('EntryCatalog.outdated', () => {
  it('checks the entries due of the sources that can: after the look in progress, only the names each holds', async () => {
    const source = new MemorySource();
    source.put('a', { task: 't', schedule: 60 });
    source.put('b', { task: 't', schedule: 60 });
    const asked: string[][] = [];
    let answer: Promise<boolean> = Promise.resolve(false);
    // The memory source with a check, as django's and RedBeat's have: is the cursor still its version?
    const checked = Object.assign(source, {
      outdated: (cursor: string, due: readonly string[]): Promise<boolean> => {
        asked.push([...due]);
        return answer.then((told) => told || cursor !== String((source as unknown as { version: number }).version));
      },
    });
    const catalog = catalogOf(checked);
    expect(catalog.checkedOrigins()).toEqual(new Set(['store']));
    // Nothing held before the first look: nothing to check.
    expect(await catalog.outdated(new Map([['store', ['a']]]))).toBe(false);
    expect(asked).toEqual([]);
    await catalog.load();
    expect(await catalog.outdated(new Map([['store', ['a', 'nobody']]]))).toBe(false);
    expect(asked).toEqual([['a']]);
    // Names of other origins, or none it holds: not asked.
    expect(await catalog.outdated(new Map([['redbeat', ['a']]]))).toBe(false);
    expect(await catalog.outdated(new Map([['store', ['nobody']]]))).toBe(false);
    expect(asked).toHaveLength(1);
    source.put('a', { task: 't', schedule: 30 });
    expect(await catalog.outdated(new Map([['store', ['a']]]))).toBe(true);
    // A look in progress is waited for: the cursor checked is the one it leaves.
    const looking = catalog.refresh();
    expect(await catalog.outdated(new Map([['store', ['a']]]))).toBe(false);
    await looking;
    // A check that fails tells nothing.
    answer = Promise.reject(new Error('down'));
    source.put('b', { task: 't', schedule: 30 });
    expect(await catalog.outdated(new Map([['store', ['b']]]))).toBe(false);
  });

  it('names a check that does not answer as a read that does not answer (readiness), past the bound', async () => {
    const source = Object.assign(new MemorySource(), { outdated: () => new Promise<boolean>(() => undefined) });
    source.put('a', { task: 't', schedule: 60 });
    let nowMs = 0;
    const catalog = new EntryCatalog({
      sources: [source],
      logger: silent,
      intervalMs: 60_000,
      defaults: { zone: 'UTC', deployment: 'default' },
      staticNames: new Set(),
      now: () => nowMs,
    });
    await catalog.load();
    void catalog.outdated(new Map([['store', ['a']]]));
    await new Promise((resolve) => setImmediate(resolve));
    expect(catalog.reading()).toEqual({ origin: 'store', sinceMs: 0 });
    expect(catalog.outOfSync()).toBeUndefined();
    nowMs = DEFAULTS.readFirstMaxMs + 1;
    expect(catalog.outOfSync()).toEqual({ sinceMs: 0, reason: 'the store entries are being read and do not answer' });
  });

  it("does not run an entry whose queue, or a canvas step's, lands on tsbeat's keys (a RedBeat entry or django row is the application's)", async () => {
    const source = new MemorySource('django');
    source.put('fine', { task: 't', schedule: 60, options: { queue: 'reports' } });
    source.put('own', { task: 't', schedule: 60, options: { queue: 'tsbeat:{other}:stop' } });
    source.put('step', { schedule: 60, chain: [{ task: 'a' }, { group: [{ task: 'b', options: { queue: 'tsbeat:{x}:lock' } }] }] });
    source.put('kombu', { task: 't', schedule: 60, options: { queue: '_kombu.binding.celery' } });
    const catalog = new EntryCatalog({
      sources: [source],
      logger: silent,
      intervalMs: 60_000,
      defaults: { zone: 'UTC', deployment: 'default' },
      staticNames: new Set(),
      queueNames: queueNameContext('tsbeat', {}),
    });
    await catalog.load();
    expect(names(catalog.entries())).toEqual(['fine']);
    const problems = Object.fromEntries(catalog.problems().map((p) => [p.name, p.problems.map((q) => `${q.path}: ${q.message}`)]));
    expect(problems['own']).toEqual([
      expect.stringMatching(/^options\.queue: the queue's list "tsbeat:\{other\}:stop" is under tsbeat's own prefix/),
    ]);
    expect(problems['step']).toEqual([expect.stringMatching(/^chain\[1\]\.group\[0\]\.options\.queue: /)]);
    expect(problems['kombu']).toEqual([expect.stringContaining('"_kombu." names kombu\'s binding sets')]);
    expect(catalog.problems().map((p) => p.origin)).toEqual(['django', 'django', 'django']);
  });
});
