/**
 * The deployment-wide stop (`beat pause --all`, issue 52) with real `beat run` replicas on the shared
 * Redis (DB 4, this file's only DB), counted by the broker list itself (LLEN of kombu's `celery`
 * list), not by logs: set while a leader publishes, it holds across a SIGKILLed leader, a standby
 * taking over, a replica restarted and a SIGTERM handover (not one message added); `beat trigger`
 * is refused meanwhile; `beat status` and its JSON say it. Lifted with `beat resume --all`, each
 * entry publishes what its own catchUp says of the slots that passed: every one (`all`), its
 * latest one, late (`once`), none (`skip`). The audit trail holds both events with the note.
 * And the same stop through the HTTP API (`/api/stop`, write token), the TypeScript client, /status,
 * /readyz, /metrics and a backfill refused with 409, and a `stopped` alert (set, then lifted) to the
 * config's webhook.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { schedulerKeys } from '../../src/redis/keys.js';
import { readEntryState } from '../../src/redis/entry-state-codec.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { byEntry, checkSlots, duplicates, readQueue } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';
import { runCli } from '../support/cli.js';
import { httpPortOf } from '../support/ops.js';
import { Entries } from '../../src/index.js';

const DB = 4;
const URL = `redis://127.0.0.1:6379/${DB}`;
const S = 1000;
/** The interval of the `once` and `skip` entries: long enough that a resume can come 2 s after a slot, past the 1 s grace. */
const SLOW = 4 * S;
const NOTE = 'incident 4711';

const fleet = new BeatFleet();
const dir = new TempDir();
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(URL);
  await redis.flushdb();
});

afterEach(async () => {
  await fleet.killAll();
  await redis.flushdb();
});

afterAll(async () => {
  await fleet.killAll();
  await redis.flushdb();
  redis.disconnect();
  dir.remove();
});

/** A webhook receiver on loopback: the alerts' bodies, in the order they came. */
async function webhook(): Promise<{ url: string; received: Record<string, unknown>[]; close: () => void }> {
  const received: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    req.on('end', () => {
      received.push(JSON.parse(text) as Record<string, unknown>);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, close: () => server.close() };
}

function lastSlot(runs: readonly QueuedRun[], entry: string): number {
  return Math.max(...runs.filter((r) => r.entry === entry).map((r) => r.slotMs));
}

describe('beat pause --all', () => {
  it('holds across a SIGKILLed leader, a takeover, a restart and a handover: 0 messages added to the broker list; on resume --all each entry catches up by its catchUp', async () => {
    const name = 'stop-fo';
    const keys = schedulerKeys('tsbeat', name);
    const hook = await webhook();
    const config = dir.write(`${name}.json`, {
      name,
      broker: { url: URL },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      // Only the stop's alerts: three leaders see the one stop, and its webhook hears of it once.
      alerts: { webhook: hook.url, on: ['stopped'] },
      beatSchedule: {
        every: { task: 't.every', schedule: 1, catchUp: 'all' },
        once: { task: 't.once', schedule: SLOW / S, catchUp: 'once' },
        skip: { task: 't.skip', schedule: SLOW / S, catchUp: 'skip' },
      },
    });
    const cli = (...argv: string[]) => runCli([...argv, '--config', config], { now: Date.now() });

    const a = fleet.spawn({ config, label: 'A' });
    await a.waitForEvent('beat.lock.acquired', 10_000);
    const b = fleet.spawn({ config, label: 'B' });
    await b.waitForLog('B standing by', (l) => l.event === 'beat.standby', 10_000);
    await waitUntil(
      'a run of every entry',
      async () => {
        const runs = await readQueue(redis);
        return ['every', 'once', 'skip'].every((e) => runs.some((r) => r.entry === e)) || undefined;
      },
      15_000,
    );

    // The stop: from the moment its MULTI is answered, no script may push.
    const paused = await cli('pause', '--all', '--note', NOTE);
    expect(paused, paused.stderr).toMatchObject({ code: 0 });
    expect(paused.stdout).toContain(`stopped the deployment ${name}`);
    const stoppedAt = Date.now();
    const baseline = await redis.llen('celery');
    const before = await readQueue(redis);
    const last = { every: lastSlot(before, 'every'), once: lastSlot(before, 'once'), skip: lastSlot(before, 'skip') };
    // The stored state is where the list says: nothing was published and left unrecorded.
    for (const [entry, slotMs] of Object.entries(last))
      expect(readEntryState((await redis.hget(keys.state, entry)) ?? '')).toMatchObject({ slotMs });
    const again = await cli('pause', '--all');
    expect(again.stdout).toContain('was already stopped');
    await a.waitForLog('A hears of the stop', (l) => l.event === 'beat.deployment.stop' && l['cleared'] !== true, 5000);
    // Its alert delivered before A is killed: the leaders after A add the same alert again, and the
    // webhook must still hear of the stop once. (Killed while sending it, A would leave it claimed:
    // another leader sends it when the claim runs out, ALERT_CLAIM_MS later (alerts/deliverer.ts), which alerts.test.ts holds.)
    await waitUntil('the stopped alert', () => (hook.received.some((r) => r['state'] === 'stopped') ? true : undefined), 10_000);

    // Refused while stopped: a manual run (exit 1, naming the stop and the way out).
    const trigger = await cli('trigger', 'every');
    expect(trigger.code).toBe(1);
    expect(trigger.stderr).toContain('the deployment is stopped');
    expect(trigger.stderr).toContain(NOTE);
    expect(trigger.stderr).toContain("'beat resume --all'");
    // Shown first by beat status (plain: not a terminal), and in its JSON.
    const status = await cli('status');
    // Wrapped at the width, its follow-on lines indented: read as the one line it is.
    expect(status.stdout.replace(/\n {2}/g, ' ').split('\n')[0]).toMatch(
      /^DEPLOYMENT STOPPED by .+ since .+ \(note: incident 4711\): .*'beat resume --all'$/,
    );
    const json = JSON.parse((await cli('status', '--json')).stdout) as { stopped?: { note: string | null } };
    expect(json.stopped).toMatchObject({ note: NOTE });

    // The leader SIGKILLed: B takes over, and publishes nothing.
    a.signal('SIGKILL');
    await b.waitForEvent('beat.lock.acquired', 10_000);
    await b.waitForLog('B holds the stop', (l) => l.event === 'beat.deployment.stop', 5000);
    await sleep(1500);
    expect(await redis.llen('celery')).toBe(baseline);
    // A replica restarted in A's place; then B handed over to it by SIGTERM: still nothing.
    const c = fleet.spawn({ config, label: 'C' });
    await c.waitForLog('C standing by', (l) => l.event === 'beat.standby', 10_000);
    b.signal('SIGTERM');
    expect(await b.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    await c.waitForEvent('beat.lock.acquired', 10_000);
    await c.waitForLog('C holds the stop', (l) => l.event === 'beat.deployment.stop', 5000);
    await sleep(1500);
    expect(await redis.llen('celery'), fleet.dump()).toBe(baseline);

    // Both slow entries were first seen together: one grid (what the resume's timing below relies on).
    expect((last.once - last.skip) % SLOW, `once at ${last.once}, skip at ${last.skip}`).toBe(0);
    // Resumed 2.2 s after a slot of the slow entries (their grid: their last slot plus multiples of
    // 4 s), at least the second that passed while stopped, however quickly the takeovers went: `once`
    // publishes that slot late and misses the one before, `skip` passes it over (late past the 1 s grace).
    let resumeAt = last.once + 2 * SLOW + 2200;
    while (resumeAt < Date.now() + 200) resumeAt += SLOW;
    await sleep(resumeAt - Date.now());
    const resumedMs = Date.now();
    const resumed = await cli('resume', '--all', '--note', 'resolved');
    expect(resumed, resumed.stderr).toMatchObject({ code: 0 });
    expect(resumed.stdout).toContain(`resumed the deployment ${name}`);
    const stopMs = resumedMs - stoppedAt;
    await c.waitForLog('C hears of the resume', (l) => l.event === 'beat.deployment.stop' && l['cleared'] === true, 5000);
    // The next on-time slot of `skip` (1.8 s after the resume) and of `every` past the catch-up.
    await sleep(3500);

    const runs = await readQueue(redis);
    expect(duplicates(runs)).toEqual({ slots: [], ids: [] });
    const after = byEntry(runs.slice(baseline));
    const slotsOf = (entry: string): number[] => (after.get(entry) ?? []).map((r) => r.slotMs);
    // catchUp all: every slot that passed is published, none twice, none missing.
    const every = checkSlots('every', byEntry(runs).get('every') ?? [], S, name);
    expect(every).toMatchObject({ duplicateSlots: [], missingSlots: [], offGrid: [], wrongIds: [] });
    expect(slotsOf('every').filter((s) => s > last.every && s <= resumedMs).length).toBeGreaterThanOrEqual(Math.floor(stopMs / S) - 1);
    // catchUp once: one late run (the latest slot that passed, 2.2 s before the resume), the slots before it missed.
    const onceLate = slotsOf('once').filter((s) => s <= resumedMs);
    expect(onceLate).toEqual([resumeAt - 2200]);
    expect(onceLate[0] ?? 0).toBeGreaterThan(last.once + SLOW);
    // catchUp skip: nothing of what passed; the next slot on time.
    expect(slotsOf('skip').filter((s) => s <= resumedMs)).toEqual([]);
    expect(slotsOf('skip')).toContain(resumeAt - 2200 + SLOW);

    // One alert for the stop, one for its lift, whichever leaders saw them.
    await waitUntil('the resumed alert', () => (hook.received.some((a) => a['state'] === 'resumed') ? true : undefined), 10_000);
    await sleep(1000);
    hook.close();
    expect(hook.received.map((a) => [a['kind'], a['state'], a['note']])).toEqual([
      ['stopped', 'stopped', NOTE],
      ['stopped', 'resumed', NOTE],
    ]);

    // The audit trail: both, with their notes, newest first.
    const audit = JSON.parse((await cli('audit', '--json')).stdout) as { action: string; entry: string; note?: string }[];
    expect(audit.filter((e) => e.action === 'pause-all' || e.action === 'resume-all')).toMatchObject([
      { action: 'resume-all', entry: '', note: 'resolved' },
      { action: 'pause-all', entry: '', note: NOTE },
    ]);
    expect(await redis.exists(keys.stop)).toBe(0);
  });
});

describe('/api/stop and the client', () => {
  it('PUT and DELETE /api/stop (write token, the note in the body), shown by /status, /readyz, /metrics; a backfill refused with 409; the client sees and lifts it', async () => {
    const name = 'stop-api';
    const TOKEN = 'stop-api-token-0123456789abcdef';
    const tokenFile = dir.write('token', `${TOKEN}\n`);
    const receiver = await webhook();
    const alerts = receiver.received;
    const hook = receiver.url;
    const config = dir.write(`${name}.json`, {
      name,
      broker: { url: URL },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      alerts: { webhook: hook },
      beatSchedule: { every: { task: 't.every', schedule: 1 } },
    });
    const p = fleet.spawn({ config, label: 'api', args: ['--http', '127.0.0.1:0', '--api-token-file', tokenFile] });
    await p.waitForEvent('beat.lock.acquired', 10_000);
    const base = `http://127.0.0.1:${await httpPortOf(p)}`;
    const call = async (method: string, path: string, body?: unknown, token: string | null = TOKEN) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      return { status: res.status, text, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} };
    };
    const stoppedGauge = async () => /^tsbeat_deployment_stopped (\d)$/m.exec((await call('GET', '/metrics')).text)?.[1];

    expect(await call('GET', '/api/stop')).toMatchObject({ status: 200, json: { stopped: null } });
    expect(await stoppedGauge()).toBe('0');
    // A write needs the token; a bad body is 400 naming the field.
    expect((await call('PUT', '/api/stop', { note: 'x' }, null)).status).toBe(401);
    expect(await call('PUT', '/api/stop', { reason: 'x' })).toMatchObject({ status: 400, json: { code: 'API_BAD_REQUEST' } });
    const put = await call('PUT', '/api/stop', { note: NOTE });
    expect(put).toMatchObject({ status: 200, json: { changed: true, stopped: { by: 'api', note: NOTE } } });
    const baseline = await redis.llen('celery');

    expect((await call('GET', '/status')).json['stopped']).toMatchObject({ by: 'api', note: NOTE });
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.text).toContain('DEPLOYMENT STOPPED by api');
    expect(await stoppedGauge()).toBe('1');
    const backfill = await call('POST', '/api/entries/every/backfill', {
      from: new Date(Date.now() - 60_000).toISOString(),
      to: new Date(Date.now() - 30_000).toISOString(),
    });
    expect(backfill).toMatchObject({ status: 409, json: { code: 'DEPLOYMENT_STOPPED' } });
    expect(backfill.text).toContain("'beat resume --all'");

    const client = await Entries.connect({ url: URL, deployment: name, who: 'client-test' });
    try {
      const deployment = client.deployment();
      expect(await deployment.stop()).toMatchObject({ by: 'api', note: NOTE });
      expect(await deployment.pause()).toMatchObject({ changed: false, stopped: { by: 'api' } });
      await sleep(1500);
      expect(await redis.llen('celery')).toBe(baseline);
      expect(await deployment.resume({ note: 'from the client' })).toMatchObject({ stopped: null, lifted: { by: 'api', note: NOTE } });
      expect(await deployment.stop()).toBeNull();
    } finally {
      await client.close();
    }
    await waitUntil('a publish after the resume', async () => ((await redis.llen('celery')) > baseline ? true : undefined), 5000);
    expect(await call('DELETE', '/api/stop')).toMatchObject({ status: 200, json: { stopped: null, lifted: null } });
    expect(await stoppedGauge()).toBe('0');
    // The alerts: one for the stop set, one for it lifted (the default alerts.on has stopped).
    // (Beside them, the `missed` alert of the slots that catchUp once passed over.)
    const stops = (): Record<string, unknown>[] => alerts.filter((a) => a['kind'] === 'stopped');
    await waitUntil('both stopped alerts', () => (stops().length >= 2 ? true : undefined), 10_000);
    await sleep(500);
    receiver.close();
    expect(stops().map((a) => [a['kind'], a['state'], a['by'], a['note']])).toEqual([
      ['stopped', 'stopped', 'api', NOTE],
      ['stopped', 'resumed', 'api', NOTE],
    ]);
    expect(String(stops()[0]?.['reason'])).toContain("'beat resume --all'");
    const audit = JSON.parse((await runCli(['audit', '--json', '--config', config])).stdout) as {
      action: string;
      who: string;
      note?: string;
    }[];
    expect(audit.filter((e) => e.action.endsWith('-all'))).toMatchObject([
      { action: 'resume-all', who: 'client-test', note: 'from the client' },
      { action: 'pause-all', who: 'api', note: NOTE },
    ]);
  });
});
