/**
 * The entry catalog applies what a source reports changed, one name at a time: its listener gets
 * exactly the entries added or changed and the names removed, unchanged entries keep their object,
 * invalid entries and names taken by the config file are held as problems (and come back when
 * fixed), and a listener that fails gets everything at the next look. The source is an in-memory
 * EntrySource whose versions and change log work as the Redis store's do (cursor = version).
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import type { EntryChanges, EntrySnapshot, EntrySource, SourcedEntry } from '../../src/ports/entries.js';
import { EntryCatalog } from '../../src/runtime/entry-catalog.js';

class MemorySource implements EntrySource {
  readonly origin = 'store' as const;
  private version = 0;
  private readonly entries = new Map<string, unknown>();
  private readonly changes = new Map<string, number>();

  set(name: string, entry: unknown): void {
    this.version += 1;
    this.entries.set(name, entry);
    this.changes.set(name, this.version);
  }

  delete(name: string): void {
    this.version += 1;
    this.entries.delete(name);
    this.changes.set(name, this.version);
  }

  private sourced(name: string): SourcedEntry {
    const parsed = parseEntryDefinition(this.entries.get(name));
    return parsed.ok ? { name, entry: parsed.entry } : { name, problems: parsed.problems };
  }

  load(): Promise<EntrySnapshot> {
    return Promise.resolve({ entries: [...this.entries.keys()].map((n) => this.sourced(n)), cursor: String(this.version) });
  }

  changesSince(cursor: string): Promise<EntryChanges> {
    const names = [...this.changes].filter(([, v]) => v > Number(cursor)).map(([n]) => n);
    return Promise.resolve({
      changed: names.filter((n) => this.entries.has(n)).map((n) => this.sourced(n)),
      removed: names.filter((n) => !this.entries.has(n)),
      cursor: String(this.version),
    });
  }
}

function catalogOf(source: MemorySource, statics: string[] = []) {
  const calls: { changed: string[]; removed: string[] }[] = [];
  let fail = false;
  const catalog = new EntryCatalog({
    sources: [source],
    logger: silentLogger,
    intervalMs: 60_000,
    defaultZone: 'UTC',
    staticNames: new Set(statics),
  });
  catalog.listen((changed: readonly ResolvedEntry[], removed: readonly string[]) => {
    calls.push({ changed: changed.map((e) => e.name).sort(), removed: [...removed].sort() });
    return fail ? Promise.reject(new Error('listener down')) : Promise.resolve();
  });
  return { catalog, calls, failing: (value: boolean) => (fail = value) };
}

/** One look, as the catalog's timer or a poke would make it. */
async function look(catalog: EntryCatalog): Promise<void> {
  catalog.start();
  catalog.poke();
  await catalog.stop();
}

describe('EntryCatalog', () => {
  it('hands its listener only what changed, and keeps the objects of unchanged entries', async () => {
    const source = new MemorySource();
    for (const name of ['a', 'b', 'c']) source.set(name, { task: 't.x', schedule: 60 });
    const { catalog, calls } = catalogOf(source);
    await look(catalog);
    expect(calls).toEqual([{ changed: ['a', 'b', 'c'], removed: [] }]);
    const a = catalog.find('a');

    source.set('b', { task: 't.x', schedule: 30 });
    source.delete('c');
    source.set('d', { task: 't.x', schedule: 10 });
    source.set('a', { schedule: 60, task: 't.x' });
    await look(catalog);
    expect(calls[1]).toEqual({ changed: ['b', 'd'], removed: ['c'] });
    expect(catalog.find('a')).toBe(a);
    expect(catalog.find('b')?.schedule).toMatchObject({ kind: 'interval' });
    expect(
      catalog
        .entries()
        .map((e) => e.name)
        .sort(),
    ).toEqual(['a', 'b', 'd']);
  });

  it('holds invalid entries and config-file names as problems, and runs them once fixed', async () => {
    const source = new MemorySource();
    source.set('ok', { task: 't.x', schedule: 60 });
    source.set('static', { task: 't.x', schedule: 60 });
    const { catalog, calls } = catalogOf(source, ['static']);
    await look(catalog);
    expect(calls).toEqual([{ changed: ['ok'], removed: [] }]);
    expect(catalog.problems().map((p) => [p.name, p.problems[0]?.path])).toEqual([['static', 'name']]);

    source.set('ok', { task: 't.x', schedule: { cron: '61 * * * *' } });
    await look(catalog);
    expect(calls[1]).toEqual({ changed: [], removed: ['ok'] });
    expect(
      catalog
        .problems()
        .map((p) => [p.name, p.problems[0]?.path])
        .sort(),
    ).toEqual([
      ['ok', 'schedule.cron'],
      ['static', 'name'],
    ]);

    source.set('ok', { task: 't.x', schedule: 5 });
    source.delete('static');
    await look(catalog);
    expect(calls[2]).toEqual({ changed: ['ok'], removed: [] });
    expect(catalog.problems()).toEqual([]);
  });

  it('hands a listener that failed everything at the next look', async () => {
    const source = new MemorySource();
    source.set('a', { task: 't.x', schedule: 60 });
    source.set('b', { task: 't.x', schedule: 60 });
    const { catalog, calls, failing } = catalogOf(source);
    await look(catalog);
    failing(true);
    source.set('a', { task: 't.x', schedule: 30 });
    await look(catalog);
    failing(false);
    await look(catalog);
    expect(calls.slice(1)).toEqual([
      { changed: ['a'], removed: [] },
      { changed: ['a', 'b'], removed: [] },
    ]);
  });
});
