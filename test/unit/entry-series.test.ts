/**
 * /metrics narrowed to the entries a reader may see (observe/entry-series.ts), held to prom-client
 * itself: the exposition of a registry holding every entry's series, filtered, is the exposition of
 * the same registry holding the kept entries' series alone, whatever the entries' names hold (quotes,
 * backslashes, newlines, commas, braces, another label's name) and whichever label comes first.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { entryLabelOf, entrySeriesOnly, labelOf } from '../../src/observe/entry-series.js';

const NAMES = ['billing-report', 'ops "cleanup"', 'back\\slash', 'new\nline', 'a,b=c}', 'entry="x"', 'ops-sync'];

/** A registry of per-entry series (a gauge, a counter whose `entry` is not its first label, a histogram) and one of the deployment. */
async function exposition(entries: readonly string[]): Promise<string> {
  const registry = new Registry();
  const next = new Gauge({ name: 't_next', help: 'next fire', labelNames: ['entry'], registers: [registry] });
  const runs = new Counter({ name: 't_runs_total', help: 'runs', labelNames: ['state', 'entry'], registers: [registry] });
  const took = new Histogram({ name: 't_seconds', help: 'runtime', labelNames: ['entry'], buckets: [1, 10], registers: [registry] });
  const all = new Gauge({ name: 't_entries', help: 'entries', registers: [registry] });
  all.set(NAMES.length);
  for (const entry of entries) {
    // Each entry's values its own, whichever others are in the registry.
    const i = NAMES.indexOf(entry);
    next.set({ entry }, 1_700_000_000 + i);
    runs.inc({ state: 'SUCCESS', entry }, i + 1);
    took.observe({ entry }, i);
  }
  return registry.metrics();
}

describe('the per-entry series of /metrics, narrowed to a scope', () => {
  it("is the exposition of the kept entries' series alone, HELP, TYPE and the deployment's series kept", async () => {
    const keep = (entry: string) => entry.startsWith('ops') || entry.includes('\n') || entry.includes('"');
    const whole = await exposition(NAMES);
    const narrowed = entrySeriesOnly(whole, keep);
    expect(narrowed).toBe(await exposition(NAMES.filter(keep)));
    expect(narrowed).toContain('# HELP t_next next fire');
    expect(narrowed).toMatch(/^t_entries 7$/m);
    expect(narrowed).not.toContain('billing-report');
  });

  it('keeps everything for a reader of every entry, and no per-entry series for a reader of none', async () => {
    const whole = await exposition(NAMES);
    expect(entrySeriesOnly(whole, () => true)).toBe(whole);
    expect(entrySeriesOnly(whole, () => false)).toBe(await exposition([]));
  });

  it("keeps a per-queue series only for a queue the reader's entries publish to; an entry's series is decided on its entry", async () => {
    const registry = new Registry();
    const unconsumed = new Gauge({ name: 't_queue_unconsumed', help: 'flagged', labelNames: ['queue'], registers: [registry] });
    const published = new Counter({ name: 't_published_total', help: 'runs', labelNames: ['entry', 'queue'], registers: [registry] });
    unconsumed.set({ queue: 'billing' }, 1);
    unconsumed.set({ queue: 'ops' }, 1);
    published.inc({ entry: 'billing-report', queue: 'ops' });
    const narrowed = entrySeriesOnly(
      await registry.metrics(),
      (entry) => entry === 'billing-report',
      (queue) => queue === 'billing',
    );
    expect(narrowed).toMatch(/^t_queue_unconsumed\{queue="billing"\} 1$/m);
    expect(narrowed).not.toMatch(/^t_queue_unconsumed\{queue="ops"\}/m);
    expect(narrowed).toMatch(/^t_published_total\{entry="billing-report",queue="ops"\} 1$/m);
    expect(labelOf('t_x{queue="a\\"b"} 1', 'queue')).toBe('a"b');
  });

  it('reads the entry label as prom-client escaped it, and asks once per entry', async () => {
    const whole = await exposition(NAMES);
    const seen = new Map<string, number>();
    entrySeriesOnly(whole, (entry) => {
      seen.set(entry, (seen.get(entry) ?? 0) + 1);
      return true;
    });
    expect([...seen.keys()].sort()).toEqual([...NAMES].sort());
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(entryLabelOf('t_x{entrypoint="a",entry="b"} 1')).toBe('b');
    expect(entryLabelOf('# HELP t_x {entry="a"}')).toBeUndefined();
    expect(entryLabelOf('t_entries 7')).toBeUndefined();
  });
});
