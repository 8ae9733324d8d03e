/**
 * Definition shapes (config/entry-shapes.ts): runtime entries that differ only in their args and
 * kwargs share one check and one resolution. Held here: what they share, that each entry still
 * reads exactly as it would on its own, and that an edit of one leaves the others as they were.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { createLogger } from '../../src/base/log.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { EntryShapes, ShapeResolver, definitionOf } from '../../src/config/entry-shapes.js';
import type { ShapedParse } from '../../src/config/entry-shapes.js';
import { resolveEntry } from '../../src/config/resolve.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import type { EntryChanges, EntrySnapshot, EntrySource, SourcedEntry } from '../../src/ports/entry-source.js';
import { EntryCatalog } from '../../src/runtime/entry-catalog.js';

const tenant = (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  task: 'reports.daily',
  args: [i, `tenant-${i}`],
  schedule: { crontab: { minute: 0, hour: 8 } },
  options: { queue: 'reports' },
  startAt: '2026-01-01T00:00:00',
  ...extra,
});

const deep = (levels: number): unknown => (levels === 0 ? 1 : [deep(levels - 1)]);

function valid(parsed: ShapedParse): Exclude<ShapedParse, { ok: false }> {
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed;
}

describe('EntryShapes', () => {
  it('checks a shape once: entries that differ only in args and kwargs share its schedule and options, each with its own arguments', () => {
    const shapes = new EntryShapes();
    const a = valid(shapes.parse(tenant(1)));
    const b = valid(shapes.parse(tenant(2, { kwargs: { region: 'eu' } })));
    const c = valid(shapes.parse(tenant(3)));
    expect(a.shape).toBeDefined();
    // b has kwargs, a and c none: one shape all the same (kwargs are the entry's own).
    expect(b.shape).toBe(a.shape);
    expect(c.shape).toBe(a.shape);
    const [da, db, dc] = [definitionOf(a), definitionOf(b), definitionOf(c)];
    expect(db.schedule).toBe(da.schedule);
    expect(db.options).toBe(da.options);
    expect(da.args).toEqual([1, 'tenant-1']);
    expect(db.args).toEqual([2, 'tenant-2']);
    expect(db.kwargs).toEqual({ region: 'eu' });
    // Each reads as it would checked on its own, keys in the same order.
    for (const [i, d, extra] of [
      [1, da, {}],
      [2, db, { kwargs: { region: 'eu' } }],
      [3, dc, {}],
    ] as const) {
      const alone = parseEntryDefinition(tenant(i, extra));
      expect(alone.ok && JSON.stringify(alone.entry)).toBe(JSON.stringify(d));
    }
    // Empty kwargs are one frozen object: no entry can change another's through it.
    expect(dc.kwargs).toBe(da.kwargs);
    expect(Object.isFrozen(da.kwargs)).toBe(true);
  });

  it('another task, schedule or option is another shape', () => {
    const shapes = new EntryShapes();
    const first = valid(shapes.parse(tenant(1))).shape;
    expect(valid(shapes.parse(tenant(2, { task: 'reports.weekly' }))).shape).not.toBe(first);
    expect(valid(shapes.parse(tenant(3, { schedule: { crontab: { minute: 0, hour: 9 } } }))).shape).not.toBe(first);
    expect(valid(shapes.parse(tenant(4, { options: { queue: 'other' } }))).shape).not.toBe(first);
    expect(valid(shapes.parse(tenant(5))).shape).toBe(first);
  });

  it('says the problems of an entry of a known shape exactly as parseEntryDefinition does', () => {
    const shapes = new EntryShapes();
    valid(shapes.parse(tenant(1)));
    const bad = [
      tenant(2, { args: 'not a list' }),
      tenant(3, { kwargs: ['not', 'an', 'object'] }),
      tenant(4, { args: [{ __type__: 'x', __value__: 1 }] }),
      // Deeper than the entry limits allow.
      tenant(5, { args: [deep(DEFAULTS.entryMaxDepth + 1)] }),
    ];
    for (const value of bad) {
      const shaped = shapes.parse(value);
      const alone = parseEntryDefinition(value);
      expect(alone.ok).toBe(false);
      expect(shaped).toEqual(alone);
    }
  });

  it('starts again past its bound of shapes, and still parses every entry right', () => {
    const shapes = new EntryShapes(2);
    const hours = [1, 2, 3, 1];
    const parsed = hours.map((hour, i) => valid(shapes.parse(tenant(i, { schedule: { crontab: { minute: 0, hour } } }))));
    // Hour 1 was forgotten when the third shape came: the fourth entry has a shape of its own.
    expect(parsed[3]?.shape).not.toBe(parsed[0]?.shape);
    parsed.forEach((p, i) => {
      const alone = parseEntryDefinition(tenant(i, { schedule: { crontab: { minute: 0, hour: hours[i] } } }));
      expect(alone.ok && alone.entry).toEqual(definitionOf(p));
    });
  });
});

describe('ShapeResolver', () => {
  it('gives two entries of one shape the same resolved schedule, options and window, each its own name, arguments and fence', () => {
    const shapes = new EntryShapes();
    const resolver = new ShapeResolver('store', { zone: 'Europe/Berlin', deployment: 'default' });
    const a = resolver.resolve('tenant-1', valid(shapes.parse(tenant(1))), { incarnation: '1', revision: '1' });
    const b = resolver.resolve('tenant-2', valid(shapes.parse(tenant(2))), { incarnation: '2', revision: '5' });
    expect(b.schedule).toBe(a.schedule);
    expect(b.options).toBe(a.options);
    expect(b.startAtMs).toBe(a.startAtMs);
    expect([b.name, b.args, b.incarnation, b.revision]).toEqual(['tenant-2', [2, 'tenant-2'], '2', '5']);
    expect(a.name).toBe('tenant-1');
    // Exactly what resolving each on its own gives, keys in the same order.
    const alone = (i: number, fence: { incarnation: string; revision: string }): string => {
      const parsed = parseEntryDefinition(tenant(i));
      if (!parsed.ok) throw new Error('invalid');
      return JSON.stringify(
        resolveEntry(`tenant-${i}`, parsed.entry, { zone: 'Europe/Berlin', deployment: 'default' }, 'store', undefined, undefined, fence),
      );
    };
    expect(JSON.stringify(a)).toBe(alone(1, { incarnation: '1', revision: '1' }));
    expect(JSON.stringify(b)).toBe(alone(2, { incarnation: '2', revision: '5' }));
  });

  it('resolves an entry with a Sentry monitor on its own: its slug is its name', () => {
    const shapes = new EntryShapes();
    const resolver = new ShapeResolver('store', { zone: 'UTC', deployment: 'default' });
    const fence = { incarnation: '1', revision: '1' };
    const a = resolver.resolve('tenant-1', valid(shapes.parse(tenant(1, { monitor: { sentry: true } }))), fence);
    const b = resolver.resolve('tenant-2', valid(shapes.parse(tenant(2, { monitor: { sentry: true } }))), fence);
    expect([a.sentry?.slug, b.sentry?.slug]).toEqual(['tenant-1', 'tenant-2']);
  });

  it("resolves an entry with H or a spread on its own: its times are its name's, not its shape's first entry's", () => {
    const shapes = new EntryShapes();
    const resolver = new ShapeResolver('store', { zone: 'UTC', deployment: 'prod' });
    const fence = { incarnation: '1', revision: '1' };
    const hashed = { schedule: { cron: 'H H * * *' } };
    const a = resolver.resolve('tenant-1', valid(shapes.parse(tenant(1, hashed))), fence);
    const b = resolver.resolve('tenant-2', valid(shapes.parse(tenant(2, hashed))), fence);
    const lines = [a, b].map((e) => (e.schedule.kind === 'cron' ? e.schedule.spec.source : ''));
    expect(lines).toEqual(['34 23 * * *', '17 8 * * *']);
    const spread = { spread: '1h' };
    const c = resolver.resolve('tenant-1', valid(shapes.parse(tenant(1, spread))), fence);
    const d = resolver.resolve('tenant-2', valid(shapes.parse(tenant(2, spread))), fence);
    expect(c.schedule.offsetMs).not.toBe(d.schedule.offsetMs);
  });
});

/** A store-like source: definitions checked through EntryShapes, each write a new version (the revision). */
class ShapedSource implements EntrySource {
  readonly origin = 'store' as const;
  private version = 0;
  private readonly shapes = new EntryShapes();
  private readonly held = new Map<string, { value: unknown; version: number; incarnation: string }>();

  put(name: string, value: unknown): void {
    this.version += 1;
    this.held.set(name, { value, version: this.version, incarnation: this.held.get(name)?.incarnation ?? String(this.version) });
  }

  private sourced(name: string, value: unknown, version: number, incarnation: string): SourcedEntry {
    const parsed = this.shapes.parse(value);
    if (!parsed.ok) return { name, problems: parsed.problems, incarnation };
    const fence = { incarnation, revision: String(version) };
    return parsed.shape === undefined
      ? { name, entry: parsed.entry, ...fence }
      : { name, shape: parsed.shape, args: parsed.args, kwargs: parsed.kwargs, ...fence };
  }

  load(): Promise<EntrySnapshot> {
    const entries = [...this.held].map(([name, e]) => this.sourced(name, e.value, e.version, e.incarnation));
    return Promise.resolve({ entries, cursor: String(this.version) });
  }

  changesSince(cursor: string): Promise<EntryChanges> {
    const changed = [...this.held].filter(([, e]) => e.version > Number(cursor));
    return Promise.resolve({
      changed: changed.map(([name, e]) => this.sourced(name, e.value, e.version, e.incarnation)),
      removed: [],
      cursor: String(this.version),
    });
  }
}

function catalogOf(source: ShapedSource): EntryCatalog {
  return new EntryCatalog({
    sources: [source],
    logger: createLogger({ level: 'silent' }),
    intervalMs: 60_000,
    defaults: { zone: 'Europe/Berlin', deployment: 'default' },
    staticNames: new Set(),
  });
}

describe('EntryCatalog over shared shapes', () => {
  it('an edit of one entry of a shape changes that one only: the other keeps its resolved entry and schedule', async () => {
    const source = new ShapedSource();
    source.put('tenant-1', tenant(1));
    source.put('tenant-2', tenant(2));
    const catalog = catalogOf(source);
    const told: string[] = [];
    catalog.listen((changed) => {
      told.push(...changed.map((e) => e.name));
      return Promise.resolve();
    });
    await catalog.load();
    const one = catalog.find('tenant-1');
    const two = catalog.find('tenant-2');
    expect(two?.schedule).toBe(one?.schedule);
    const hourOf = (e: ResolvedEntry | undefined): unknown => (e?.schedule.kind === 'cron' ? e.schedule.spec.source : undefined);
    const before = hourOf(two);
    expect(before).toBe('crontab(minute=0, hour=8)');

    source.put('tenant-1', tenant(1, { schedule: { crontab: { minute: 0, hour: 9 } } }));
    told.length = 0;
    await catalog.refresh();
    expect(told).toEqual(['tenant-1']);
    expect(hourOf(catalog.find('tenant-1'))).toBe('crontab(minute=0, hour=9)');
    expect(catalog.find('tenant-2')).toBe(two);
    expect(hourOf(catalog.find('tenant-2'))).toBe(before);
    expect(catalog.find('tenant-1')?.revision).toBe('3');
  });

  it('a reload with the same defaults keeps every resolved entry and tells nothing; another zone resolves them again', async () => {
    const source = new ShapedSource();
    for (let i = 0; i < 5; i += 1) source.put(`tenant-${i}`, tenant(i));
    const catalog = catalogOf(source);
    await catalog.load();
    const told: string[] = [];
    catalog.listen((changed) => {
      told.push(...changed.map((e) => e.name));
      return Promise.resolve();
    });
    const before = catalog.entries();
    await catalog.reconfigure({ zone: 'Europe/Berlin', deployment: 'default' }, new Set());
    expect(catalog.entries()).toEqual(before);
    catalog.entries().forEach((e, i) => expect(e).toBe(before[i]));

    await catalog.reconfigure({ zone: 'Asia/Tokyo', deployment: 'default' }, new Set());
    const after = catalog.entries();
    expect(after.map((e) => e.timezone)).toEqual(Array(5).fill('Asia/Tokyo'));
    expect(after[1]?.startAtMs).toBe(after[0]?.startAtMs);
    expect(after[0]?.startAtMs).not.toBe(before[0]?.startAtMs);
    // A reload tells no listener (the session is started afresh by it).
    expect(told).toEqual([]);
  });
});
