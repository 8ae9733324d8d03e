/**
 * Step E of partitions (issue 34): a catalog with `partitions` > 1 holds the runtime entries of the
 * partitions taken on (holdPartition) alone, reads a partition's whole when it is taken on and its
 * changes after, asks its sources for those alone (the filter before decoding: a source written
 * for the test counts what it decodes), and forgets a partition dropped without telling anyone of
 * removals; the slices (catalog-slices.ts) take on and drop their own partition. With one
 * partition, nothing changes: every entry is held from the first look.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { partitionOf } from '../../src/core/partition.js';
import { keeps } from '../../src/ports/entries.js';
import type { EntryChanges, EntryFilter, EntrySnapshot, EntrySource, SourcedEntry } from '../../src/ports/entries.js';
import { catalogSlices } from '../../src/runtime/catalog-slices.js';
import { EntryCatalog } from '../../src/runtime/entry-catalog.js';
import type { EntryOrigin } from '../../src/config/resolve.js';

const N = 4;
const NAMES = Array.from({ length: 60 }, (_, i) => `job-${i}`);
const inPartition = (p: number): string[] => NAMES.filter((n) => partitionOf(n, N) === p).sort();

/** A source in memory, with a version per change, that decodes only what a filter keeps (as the store does) and counts it. */
class FilteringSource implements EntrySource {
  private version = 0;
  private readonly values = new Map<string, { value: unknown; version: number }>();
  private readonly deleted = new Map<string, number>();
  /** Every name decoded, in order. */
  readonly decoded: string[] = [];
  /** The filters of each load, as sets of partitions (undefined: none). */
  readonly loads: (number[] | undefined)[] = [];
  failLoads = 0;

  constructor(
    readonly origin: EntryOrigin = 'store',
    /** False: a source that hands on everything (the catalog must drop the rest itself). */
    private readonly filters = true,
  ) {}

  put(name: string, every = 60): void {
    this.version += 1;
    this.values.set(name, { value: { task: `t.${name}`, schedule: every }, version: this.version });
    this.deleted.delete(name);
  }

  delete(name: string): void {
    this.version += 1;
    this.values.delete(name);
    this.deleted.set(name, this.version);
  }

  private sourced(name: string): SourcedEntry {
    this.decoded.push(name);
    const parsed = parseEntryDefinition(this.values.get(name)?.value);
    if (!parsed.ok) throw new Error(name);
    return { name, entry: parsed.entry, incarnation: '1' };
  }

  private kept(filter: EntryFilter | undefined): (name: string) => boolean {
    return (name) => !this.filters || keeps(filter, name);
  }

  load(filter?: EntryFilter): Promise<EntrySnapshot> {
    this.loads.push(filter === undefined ? undefined : [...filter.held].sort());
    if (this.failLoads > 0) {
      this.failLoads -= 1;
      return Promise.reject(new Error('connection lost'));
    }
    const names = [...this.values.keys()].filter(this.kept(filter));
    return Promise.resolve({ entries: names.map((n) => this.sourced(n)), cursor: String(this.version) });
  }

  changesSince(cursor: string, filter?: EntryFilter): Promise<EntryChanges> {
    const since = Number(cursor);
    const changed = [...this.values].filter(([n, e]) => e.version > since && this.kept(filter)(n)).map(([n]) => this.sourced(n));
    const removed = [...this.deleted].filter(([n, v]) => v > since && this.kept(filter)(n)).map(([n]) => n);
    return Promise.resolve({ changed, removed, cursor: String(this.version) });
  }
}

function catalogOf(sources: EntrySource[], partitions: number): EntryCatalog {
  return new EntryCatalog({
    sources,
    logger: silentLogger,
    intervalMs: 60_000,
    defaults: { zone: 'UTC' },
    staticNames: new Set(),
    retryMinMs: 60_000,
    partitions,
  });
}

const names = (catalog: Pick<EntryCatalog, 'entries'>): string[] =>
  catalog
    .entries()
    .map((e) => e.name)
    .sort();

describe('a catalog of partitions', () => {
  it('holds nothing until a partition is taken on, then only its entries, decoding no other', async () => {
    const source = new FilteringSource();
    for (const name of NAMES) source.put(name);
    const catalog = catalogOf([source], N);
    await catalog.load();
    // A standby: the first read asked for no partition, and decoded nothing.
    expect(source.loads).toEqual([[]]);
    expect(source.decoded).toEqual([]);
    expect(catalog.entries()).toEqual([]);

    await catalog.holdPartition(1);
    expect(names(catalog)).toEqual(inPartition(1));
    expect(source.loads.at(-1)).toEqual([1]);
    expect([...new Set(source.decoded)].sort()).toEqual(inPartition(1));
    expect(catalog.heldCount(1)).toBe(inPartition(1).length);
    expect(catalog.heldCount(2)).toBe(0);

    // Changes: those of the partition held are read, the others not even decoded.
    const other = inPartition(2)[0] as string;
    const mine = inPartition(1)[0] as string;
    source.decoded.length = 0;
    source.put(other, 5);
    source.put(mine, 5);
    source.put('job-new-1');
    await catalog.refresh();
    expect(source.decoded.every((n) => partitionOf(n, N) === 1)).toBe(true);
    expect(catalog.find(other)).toBeUndefined();
    expect(catalog.find(mine)?.schedule).toMatchObject({ kind: 'interval', everyMs: 5000 });

    // A second partition: read whole (under the cursor kept), the first kept as it is.
    await catalog.holdPartition(2);
    expect(source.loads.at(-1)).toEqual([2]);
    const all = [...NAMES, 'job-new-1'];
    expect(names(catalog)).toEqual(all.filter((n) => [1, 2].includes(partitionOf(n, N))).sort());
    expect(catalog.find(other)?.schedule).toMatchObject({ everyMs: 5000 });
    // Each partition's own entries, as its slice lists them.
    const of = (p: number): string[] =>
      catalog
        .entries(p)
        .map((e) => e.name)
        .sort();
    expect(of(1)).toEqual(all.filter((n) => partitionOf(n, N) === 1).sort());
    expect(of(2)).toEqual(all.filter((n) => partitionOf(n, N) === 2).sort());
    expect(of(0)).toEqual([]);
    expect(catalog.entries(2).find((e) => e.name === other)?.schedule).toMatchObject({ everyMs: 5000 });
  });

  it('forgets a partition dropped without telling a removal, and reads it afresh when it is taken on again', async () => {
    const source = new FilteringSource();
    for (const name of NAMES) source.put(name);
    const catalog = catalogOf([source], N);
    const removed: string[] = [];
    catalog.onRemoved((gone) => removed.push(...gone));
    await catalog.load();
    // Two partitions taken on at once (two locks won together) are read in one load.
    await Promise.all([catalog.holdPartition(0), catalog.holdPartition(3)]);
    expect(source.loads).toEqual([[], [0, 3]]);
    expect(names(catalog)).toEqual([...inPartition(0), ...inPartition(3)].sort());
    const version = catalog.version;
    await catalog.dropPartition(0);
    expect(names(catalog)).toEqual(inPartition(3));
    expect(catalog.heldCount(0)).toBe(0);
    expect(catalog.entries(0)).toEqual([]);
    expect(
      catalog
        .entries(3)
        .map((e) => e.name)
        .sort(),
    ).toEqual(inPartition(3));
    expect(removed).toEqual([]);
    // The dashboard's rows are made again.
    expect(catalog.version).toBeGreaterThan(version);
    // Meanwhile an entry of partition 0 is deleted and another changed: taken on again, it is as the source holds it.
    const [gone, edited] = inPartition(0) as [string, string];
    source.delete(gone);
    source.put(edited, 7);
    await catalog.refresh();
    expect(catalog.find(edited)).toBeUndefined();
    await catalog.holdPartition(0);
    expect(names(catalog)).toEqual([...inPartition(0).filter((n) => n !== gone), ...inPartition(3)].sort());
    expect(catalog.find(edited)?.schedule).toMatchObject({ everyMs: 7000 });
    expect(
      catalog
        .entries(0)
        .map((e) => e.name)
        .sort(),
    ).toEqual(inPartition(0).filter((n) => n !== gone));
    expect(removed).toEqual([]);
  });

  it('keeps only what it holds of a source that hands on everything (django), and tolerates one that cannot be read', async () => {
    const store = new FilteringSource('store');
    const django = new FilteringSource('django', false);
    for (const name of NAMES.slice(0, 30)) store.put(name);
    for (const name of NAMES.slice(30)) django.put(name);
    const catalog = catalogOf([store, django], N);
    await catalog.load();
    expect(catalog.entries()).toEqual([]);
    django.failLoads = 1;
    // The django rows of the partition come at a later look: the store's are in force at once.
    await catalog.holdPartition(2);
    expect(names(catalog)).toEqual(inPartition(2).filter((n) => NAMES.indexOf(n) < 30));
    expect(catalog.outOfSync()?.reason).toContain('django');
    await catalog.refresh();
    expect(names(catalog)).toEqual(inPartition(2));
  });

  it('on a reload resolves again only what it holds, without reading the sources again', async () => {
    const source = new FilteringSource();
    for (const name of NAMES) source.put(name);
    const catalog = catalogOf([source], N);
    await catalog.load();
    await catalog.holdPartition(1);
    const loads = source.loads.length;
    source.decoded.length = 0;
    await catalog.reconfigure({ zone: 'Europe/Paris' }, new Set());
    expect(source.loads).toHaveLength(loads);
    expect(source.decoded).toEqual([]);
    expect(names(catalog)).toEqual(inPartition(1));
    expect(catalog.entries().every((e) => e.timezone === 'Europe/Paris')).toBe(true);
  });

  it('rejects the take-over of a partition whose store entries cannot be read, and reads them at the next attempt', async () => {
    const source = new FilteringSource();
    for (const name of NAMES) source.put(name);
    const catalog = catalogOf([source], N);
    await catalog.load();
    source.failLoads = 1;
    await expect(catalog.holdPartition(1)).rejects.toMatchObject({ code: 'REDIS_UNAVAILABLE' });
    await catalog.dropPartition(1);
    await catalog.holdPartition(1);
    expect(names(catalog)).toEqual(inPartition(1));
  });

  it('with one partition holds every entry from the first look (holdPartition and dropPartition change nothing)', async () => {
    const source = new FilteringSource();
    for (const name of NAMES) source.put(name);
    const catalog = catalogOf([source], 1);
    await catalog.load();
    expect(source.loads).toEqual([undefined]);
    expect(names(catalog)).toEqual([...NAMES].sort());
    await catalog.dropPartition(0);
    expect(catalog.heldCount(0)).toBe(NAMES.length);
    expect(catalogSlices(catalog, 1)[0]?.hold).toBeUndefined();
  });
});

describe('the slices of a catalog of partitions', () => {
  it("take their own partition on and drop it; a slice's listener hears its own changes, not another's take-over", async () => {
    const source = new FilteringSource();
    for (const name of NAMES) source.put(name);
    const catalog = catalogOf([source], N);
    await catalog.load();
    const slices = catalogSlices(catalog, N);
    const heard: string[][] = [];
    const one = slices[1];
    const two = slices[2];
    if (one?.hold === undefined || two?.hold === undefined || one.drop === undefined) throw new Error('no hold');
    await one.hold();
    expect(
      one
        .entries()
        .map((e) => e.name)
        .sort(),
    ).toEqual(inPartition(1));
    one.listen((changed) => {
      heard.push(changed.map((e) => e.name));
      return Promise.resolve();
    });
    await two.hold();
    expect(
      two
        .entries()
        .map((e) => e.name)
        .sort(),
    ).toEqual(inPartition(2));
    expect(heard).toEqual([]);
    const mine = inPartition(1)[1] as string;
    source.put(mine, 9);
    source.put(inPartition(2)[1] as string, 9);
    await catalog.refresh();
    expect(heard).toEqual([[mine]]);
    one.listen(undefined);
    await one.drop();
    expect(one.entries()).toEqual([]);
    expect(
      two
        .entries()
        .map((e) => e.name)
        .sort(),
    ).toEqual(inPartition(2));
  });
});
