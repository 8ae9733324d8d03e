/**
 * Per-entry series in /metrics are forgotten and capped: an entry that leaves the schedule takes its
 * series with it (every metric labelled by entry), and past metricsMaxEntries a new entry's samples
 * are left out and counted. Read from the exposition text, as Prometheus reads it.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { BeatMetrics } from '../../src/observe/metrics.js';
import type { Destination } from '../../src/celery/routing.js';

const entries = parseConfig(
  { beatSchedule: Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => [n, { task: `t.${n}`, schedule: 60 }])) },
  'metrics-series.test',
).entries as ResolvedEntry[];
const byName = new Map(entries.map((e) => [e.name, e]));
const destination: Destination = {
  exchange: '',
  exchangeType: 'direct',
  routingKey: 'celery',
  declareQueue: 'celery',
  priority: undefined,
  matchedRoute: undefined,
};

/** The entries that have a sample of `metric` in the exposition. */
async function entriesOf(metrics: BeatMetrics, metric: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  const found = new Set<string>();
  for (const m of text.matchAll(new RegExp(`^${metric}\\{[^}]*entry="([^"]+)"`, 'gm'))) found.add(m[1] as string);
  return [...found].sort();
}

async function value(metrics: BeatMetrics, metric: string): Promise<number | undefined> {
  const m = new RegExp(`^${metric} (\\S+)$`, 'm').exec(await metrics.registry.metrics());
  return m === null ? undefined : Number(m[1]);
}

describe('per-entry series', () => {
  it('are capped at maxEntries (the rest counted as left out) and go with their entry, making room', async () => {
    const metrics = new BeatMetrics({ processMetrics: false, maxEntries: 3 });
    const publish = (name: string): void =>
      metrics.events.published({ entry: byName.get(name) as ResolvedEntry, slotMs: 0, id: `id-${name}`, destination }, 5);
    for (const name of ['a', 'b', 'c', 'd', 'e']) publish(name);
    metrics.events.dropped('a');
    metrics.events.revoked?.({ entry: 'a', taskId: 'x', policy: 'terminateOther', signal: 'SIGTERM', outcome: 'sent', atMs: 0 });
    metrics.outcomes.finished('a', { taskId: 'x', slotMs: 0, publishedAtMs: 0, state: 'SUCCESS', finishedAtMs: 1000, runtimeMs: 10 });
    metrics.events.missed({ entry: byName.get('d') as ResolvedEntry, count: 2, reason: 'skip_late', firstSlotMs: 0, atMs: 0 });
    expect(await entriesOf(metrics, 'tsbeat_messages_published_total')).toEqual(['a', 'b', 'c']);
    expect(await entriesOf(metrics, 'tsbeat_slots_missed_total')).toEqual([]);
    expect(await metrics.registry.metrics()).toMatch(/^tsbeat_revokes_total\{entry="a",policy="terminateOther",outcome="sent"\} 1$/m);
    // d and e published (2), and d's missed slots (1): left out.
    expect(await value(metrics, 'tsbeat_entry_series_left_out_total')).toBe(3);

    metrics.events.entriesRemoved?.(['a', 'zzz']);
    await new Promise((resolve) => setImmediate(resolve));
    for (const metric of [
      'tsbeat_messages_published_total',
      'tsbeat_messages_dropped_total',
      'tsbeat_revokes_total',
      'tsbeat_runs_total',
      'tsbeat_entry_last_success_timestamp_seconds',
      'tsbeat_run_duration_seconds_count',
    ])
      expect(await entriesOf(metrics, metric), metric).not.toContain('a');
    publish('f');
    publish('b');
    expect(await entriesOf(metrics, 'tsbeat_messages_published_total')).toEqual(['b', 'c', 'f']);
    expect(await metrics.registry.metrics()).toMatch(/^tsbeat_messages_published_total\{entry="b",task="t\.b",queue="celery"\} 2$/m);
  });

  it("export the next fire of the capped entries alone, asked by name once the cap is reached (no walk of every entry's)", async () => {
    const metrics = new BeatMetrics({ processMetrics: false, maxEntries: 3 });
    const fires = new Map([...'abcdef'].map((name, i) => [name, 1_000_000 * (i + 1)] as [string, number | undefined]));
    let walks = 0;
    metrics.readScheduleFrom({
      entries: () => ({ enabled: fires.size, disabled: 0, paused: 0 }),
      nextFires: () => {
        walks += 1;
        return [...fires];
      },
      nextFire: (entry) => fires.get(entry),
    });
    const fireOf = async (entry: string): Promise<number | undefined> => {
      const m = new RegExp(`^tsbeat_entry_next_fire_timestamp_seconds\\{entry="${entry}"\\} (\\S+)$`, 'm').exec(
        await metrics.registry.metrics(),
      );
      return m === null ? undefined : Number(m[1]);
    };
    expect(await entriesOf(metrics, 'tsbeat_entry_next_fire_timestamp_seconds')).toEqual(['a', 'b', 'c']);
    expect(walks).toBe(1);
    // Later scrapes ask for the three by name: a changed fire shows, one with none leaves the gauge.
    fires.set('b', 42_000);
    fires.set('c', undefined);
    expect(await fireOf('b')).toBe(42);
    expect(await entriesOf(metrics, 'tsbeat_entry_next_fire_timestamp_seconds')).toEqual(['a', 'b']);
    expect(walks).toBe(1);
    // An entry that leaves makes room: the next scrape walks again and admits another.
    fires.delete('a');
    metrics.events.entriesRemoved?.(['a']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await entriesOf(metrics, 'tsbeat_entry_next_fire_timestamp_seconds')).toEqual(['b', 'd']);
    expect(walks).toBe(2);
  });
});
