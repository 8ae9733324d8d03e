/**
 * Cut-over from celery beat itself (PersistentScheduler and its schedule file) to tsbeat, on a
 * private Redis broker: the real `celery beat -s <file>` (whatever Celery PYTHONPATH gives: Debian's
 * 5.2.6, or the newer generation in .ci/run's leg) sends an interval entry twice and is stopped; `beat
 * import celery --schedule-file <file>` reads its shelve with the same Python and carries each
 * entry's last_run_at into the deployment's state; tsbeat then starts. The hazard: tsbeat ignored
 * the file, so the interval restarted at the cut-over (its first run one period after tsbeat's
 * start, not after celery beat's last send). The oracles: the last_run_at and total_run_count
 * Python's shelve reads from the file, and the broker's list (celery beat's messages and
 * tsbeat's, none consumed): tsbeat's first message is for the slot celery beat would have sent
 * next (last_run_at + the period), published at or after it, each slot once: 0 lost, 0 doubled, 0
 * early; an entry celery beat never sent (total_run_count 0) first runs one period after celery
 * beat first saw it, as celery beat would have sent it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, TempDir, waitUntil } from '../support/beat-process.js';
import type { LogLine } from '../support/beat-process.js';
import { APP_DIR, PYTHON, pythonCelery, startBeat, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { runCli } from '../support/cli.js';
import { startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const EVERY_S = 6;
const ENTRY = { name: 'cb-every', task: 'tsbeat_test.record', schedule: EVERY_S, kwargs: { entry: 'cb-every' } };
/**
 * An entry celery beat sees but never sends before it stops: it counts from when celery beat first
 * saw it. Its first slot must still be ahead when tsbeat starts, after celery beat's two runs, its
 * stop (up to 5 s before a SIGKILL) and the import, on a loaded machine too: 30 s leaves ~15 s.
 */
const SLOW_S = 30;
const SLOW = { name: 'cb-slow', task: 'tsbeat_test.record', schedule: SLOW_S, kwargs: { entry: 'cb-slow' } };

/** celery beat's record of each entry, read from its schedule file with Python's shelve (read-only). */
function shelveRecord(file: string): Record<string, { last: number; count: number }> {
  const script = [
    'import json, shelve, sys',
    "s = shelve.open(sys.argv[1], flag='r')",
    "print(json.dumps({n: {'last': e.last_run_at.timestamp(), 'count': e.total_run_count} for n, e in s['entries'].items()}))",
    's.close()',
  ].join('\n');
  const env = { ...process.env, PYTHONPATH: [APP_DIR, process.env['PYTHONPATH']].filter(Boolean).join(':') };
  return JSON.parse(execFileSync(PYTHON, ['-c', script, file], { encoding: 'utf8', env })) as Record<
    string,
    { last: number; count: number }
  >;
}

suite(`cut-over from celery beat's schedule file${celery.ok ? ` (Celery ${celery.version})` : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let broker: Redis;
  let beat: CeleryProcess | undefined;

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    server = await startPrivateRedis();
    broker = new Redis(server.url(0));
  }, 30_000);

  afterAll(async () => {
    await fleet.killAll();
    await stopAll([beat]);
    broker?.disconnect();
    await server?.stop();
    dir.remove();
  });

  /** The messages in the broker's `celery` list, oldest first: their task ids and entries. */
  const messages = async (): Promise<{ id: string; entry: string }[]> =>
    (await broker.lrange('celery', 0, -1)).reverse().map((m) => {
      const parsed = JSON.parse(m) as { headers: { id: string; kwargsrepr?: string } };
      return { id: parsed.headers.id, entry: /'entry': '([^']+)'/.exec(parsed.headers.kwargsrepr ?? '')?.[1] ?? '' };
    });
  const messageIds = async (entry: string): Promise<string[]> => (await messages()).filter((m) => m.entry === entry).map((m) => m.id);

  it('publishes the slot celery beat would have sent next, once, not before it', async () => {
    // A retry (vitest.config.ts) starts afresh: no process, message, state or schedule file of the
    // failed attempt is left to be read as this one's.
    await fleet.killAll();
    await stopAll([beat]);
    await broker.flushall();
    const scheduleFile = join(dir.path, 'celerybeat-schedule');
    for (const name of readdirSync(dir.path)) rmSync(join(dir.path, name), { recursive: true, force: true });
    const env = { broker: server.url(0), beatEntry: [ENTRY, SLOW] };
    beat = startBeat({ env, scheduleFile });
    await waitUntil(
      'celery beat to send 2 runs',
      async () => ((await messageIds(ENTRY.name)).length >= 2 ? true : undefined),
      (3 * EVERY_S + 15) * 1000,
      () => beat?.output() ?? '',
    );
    // Read before the stop, which a loaded machine can stretch by seconds: celery beat sent its
    // last run within a period of this instant (its second, or a third sent since).
    const sentBy = Date.now();
    await beat.stop();
    const fromCelery = await messages();
    const records = shelveRecord(scheduleFile);
    const record = records[ENTRY.name];
    expect(record?.count).toBe(fromCelery.filter((m) => m.entry === ENTRY.name).length);
    const lastMs = Math.round((record?.last ?? 0) * 1000);
    expect(sentBy - lastMs).toBeLessThan(EVERY_S * 1000);
    // Never sent: its last_run_at is when celery beat first saw it.
    expect(records[SLOW.name]?.count).toBe(0);
    const seenMs = Math.round((records[SLOW.name]?.last ?? 0) * 1000);
    expect(seenMs + SLOW_S * 1000).toBeGreaterThan(Date.now() + 3000);

    // The import, with the app as celery beat ran it (same Python, same environment).
    const importEnv = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      PYTHONPATH: [APP_DIR, process.env['PYTHONPATH']].filter(Boolean).join(':'),
      TSBEAT_TEST_BROKER: env.broker,
      TSBEAT_TEST_BEAT_ENTRY: JSON.stringify([ENTRY, SLOW]),
    };
    const imported = await runCli(
      ['import', 'celery', '--app', 'tsbeat_testapp:app', '--python', PYTHON, '--schedule-file', scheduleFile, '--out', 'beat.yaml'],
      { cwd: dir.path, env: importEnv, now: Date.now() },
    );
    expect(imported.stderr).toContain("beat import celery: celery beat's last runs of 2 entries taken from");
    expect(imported.code).toBe(0);

    const tsbeat = fleet.spawn({ config: join(dir.path, 'beat.yaml'), args: ['--log-level', 'info'] });
    const fires = (name = ENTRY.name): LogLine[] => tsbeat.events(EVENTS.fire).filter((l) => l['entry'] === name);
    await waitUntil(
      '2 runs of cb-every and 1 of cb-slow by tsbeat',
      () => Promise.resolve((fires().length >= 2 && fires(SLOW.name).length >= 1) || undefined),
      (SLOW_S + 15) * 1000,
      () => fleet.dump(),
    );
    tsbeat.signal('SIGTERM');
    await tsbeat.waitForExit(10_000);

    const [first, second] = fires();
    // Not later, not earlier: the slot celery beat would have sent next, published at or after it.
    expect(Date.parse(String(first?.['slot']))).toBe(lastMs + EVERY_S * 1000);
    expect(Number(first?.['latenessMs'])).toBeGreaterThanOrEqual(0);
    expect(Date.parse(String(second?.['slot']))).toBe(lastMs + 2 * EVERY_S * 1000);
    // The entry celery beat never sent: one period after celery beat first saw it, not at tsbeat's start.
    const [slow] = fires(SLOW.name);
    expect(Date.parse(String(slow?.['slot']))).toBe(seenMs + SLOW_S * 1000);
    expect(Number(slow?.['latenessMs'])).toBeGreaterThanOrEqual(0);
    // Not twice: every message in the list once, celery beat's then tsbeat's.
    const all = await messages();
    expect(new Set(all.map((m) => m.id)).size).toBe(all.length);
    for (const name of [ENTRY.name, SLOW.name]) {
      const ours = all.slice(fromCelery.length).filter((m) => m.entry === name);
      expect(ours.map((m) => m.id)).toEqual(fires(name).map((l) => String(l['id'])));
    }
  }, 120_000);
});
