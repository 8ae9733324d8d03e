/**
 * Leadership failures that used to be silent, with real `beat run` processes on a private
 * redis-server (a port of 6381–6389, so no DB of the shared server is needed):
 * - two deployments left on the same `name` with different configs: the standby's entries never
 *   run; it must say so (log, /readyz, /status, `beat status`), and the CLI must refuse to trigger
 *   or pause an entry the leader does not have instead of timing out or exiting 0;
 * - a lock key tsbeat did not write (no expiry): no replica can lead, for ever; it must be named
 *   with the command that clears it (log, /readyz 503, `beat status`);
 * - a leader that steps down by itself must give the lock back at once, not keep every standby out
 *   until it expires.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, TempDir, errText, logTimeMs, sleep, waitUntil } from '../support/beat-process.js';
import { duplicates, readQueue } from '../support/beat-queue.js';
import { httpPortOf, httpRequest, killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.diag';
const FAST_LOCK = { ttl: '2s', renewEvery: '500ms', retryEvery: '200ms' } as const;

const fleet = new BeatFleet();
const dir = new TempDir();
let server: PrivateRedis;
let redis: Redis;

function configFile(label: string, name: string, beatSchedule: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return dir.write(`${label}.json`, {
    name,
    broker: { url: server.url(0) },
    maxInterval: '200ms',
    lock: FAST_LOCK,
    beatSchedule,
    ...extra,
  });
}

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = server.client(0);
  await redis.connect();
});

afterEach(async () => {
  killCliChildren();
  await fleet.killAll();
  await redis.flushall();
});

afterAll(async () => {
  await fleet.killAll();
  redis.disconnect();
  await server.stop();
  dir.remove();
});

describe('two deployments under one name', () => {
  it("a standby whose config differs from the leader's says so (log, /readyz, /status, beat status), and trigger/pause of an entry the leader lacks exit 2 naming it", async () => {
    const name = uniqueName('shared');
    const first = configFile('first', name, { reports: { task: TASK, schedule: 1 } });
    const second = configFile('second', name, { reports: { task: TASK, schedule: 1 }, invoices: { task: TASK, schedule: 3600 } });
    const leader = fleet.spawn({ config: first, label: 'first' });
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    const standby = fleet.spawn({ config: second, label: 'second', args: ['--http', '127.0.0.1:0'] });
    const port = await httpPortOf(standby);

    const logged = await standby.waitForEvent(EVENTS.configMismatch, 10_000);
    expect(logged).toMatchObject({ level: 'warn', onlyHere: ['invoices'], onlyLeader: [] });
    expect(String(logged.msg)).toContain('give each its own `name`');

    const ready = await httpRequest(port, '/readyz');
    // Still ready (a rolling update that changes the config passes through this state), but saying why.
    expect(ready.status).toBe(200);
    expect(ready.body).toMatch(
      /WARNING: this config differs from the one the leader .* runs: this config has 1 entry the leader lacks \("invoices"\)/,
    );
    const status = JSON.parse((await httpRequest(port, '/status')).body) as { warnings: string[] };
    expect(status.warnings).toEqual([expect.stringContaining('"invoices"')]);

    const cliStatus = await runBeatCli(['status', '--wide', '--config', second]);
    expect(cliStatus.code).toBe(0);
    expect(cliStatus.stdout).toMatch(/^WARNING: this config differs .*"invoices".*its own `name`/m);
    // The leader's own config matches itself: no warning there.
    const leaderStatus = await runBeatCli(['status', '--wide', '--config', first]);
    expect(leaderStatus.stdout).not.toContain('WARNING');

    const trigger = await runBeatCli(['trigger', 'invoices', '--config', second]);
    expect(trigger.code).toBe(2);
    expect(trigger.stderr).toMatch(/beat trigger: the leader has no entry "invoices".*its own `name`/);
    const keys = schedulerKeys('tsbeat', name);
    expect(await redis.llen(keys.triggers)).toBe(0);
    const pause = await runBeatCli(['pause', 'invoices', '--config', second]);
    expect(pause.code).toBe(2);
    expect(pause.stderr).toContain('the leader has no entry "invoices"');
    expect(await redis.smembers(keys.paused)).toEqual([]);
    // An entry both have still works, with a warning that the leader's definition is the one used.
    const shared = await runBeatCli(['trigger', 'reports', '--config', second]);
    expect(shared.code, shared.stderr).toBe(0);
    expect(shared.stderr).toContain('beat trigger: WARNING: this config differs');

    // The leader reloads the standby's config (SIGHUP): it republishes its fingerprint, the warning clears.
    const mark = standby.logs.length;
    dir.write('first.json', JSON.parse(readFileSync(second, 'utf8')) as unknown);
    leader.signal('SIGHUP');
    await leader.waitForEvent(EVENTS.reload, 10_000);
    const cleared = await standby.waitForEvent(EVENTS.configMismatch, 10_000, mark);
    expect(cleared).toMatchObject({ level: 'info', cleared: true });
    expect((await httpRequest(port, '/readyz')).body).toBe('ok: standby, ready to take over\n');
  });
});

describe('a lock key tsbeat did not write', () => {
  it('a lock key SET without expiry while a leader runs: every replica says which key blocks leadership and how to clear it; /readyz is 503; clearing it brings a leader back', async () => {
    const name = uniqueName('stray');
    const file = configFile('stray', name, { tick: { task: TASK, schedule: 1 } });
    const keys = schedulerKeys('tsbeat', name);
    const a = fleet.spawn({ config: file, label: 'A', args: ['--http', '127.0.0.1:0'] });
    await a.waitForEvent(EVENTS.lockAcquired, 10_000);
    const b = fleet.spawn({ config: file, label: 'B', args: ['--http', '127.0.0.1:0'] });
    const [portA, portB] = [await httpPortOf(a), await httpPortOf(b)];
    await b.waitForEvent(EVENTS.standby, 10_000);

    await redis.set(keys.lock, 'held-by-hand');
    // The leader's renewal says what happened, not "unable to achieve a quorum".
    const renewal = await a.waitForEvent(EVENTS.lockRenewFailed, 5000);
    expect(errText(renewal)).toBe(`the lock key ${keys.lock} no longer holds this leader's token (it expired, or something else wrote it)`);
    const fix = `redis-cli -h 127.0.0.1 -p ${server.port} -n 0 DEL '${keys.lock}'`;
    for (const p of [a, b]) {
      const line = await p.waitForEvent(EVENTS.lockBlocked, 10_000);
      expect(line).toMatchObject({ level: 'error', key: keys.lock, noExpiry: true, foreign: 'the string "held-by-hand"', fix });
    }
    for (const port of [portA, portB]) {
      const ready = await httpRequest(port, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toContain(`the lock key ${keys.lock} on 127.0.0.1:${server.port} db 0 has no expiry`);
      expect(ready.body).toContain(fix);
    }
    const status = await runBeatCli(['status', '--wide', '--config', file]);
    expect(status.stdout).toContain('NO LEADER');
    expect(status.stdout).toContain(`WARNING: the lock key ${keys.lock}`);
    expect(status.stdout).toContain(fix);

    const marks = new Map([a, b].map((p) => [p, p.logs.length]));
    await redis.del(keys.lock);
    await waitUntil(
      'a leader again',
      () => [a, b].find((p) => p.events(EVENTS.lockAcquired, marks.get(p)).length > 0),
      5000,
      () => fleet.dump(),
    );
  });
});

describe('stepping down', () => {
  it('a leader that steps down by itself (its connections killed until renewals fail) releases the lock: a standby leads well before the lock would have expired, and nothing is published twice', async () => {
    const name = uniqueName('stepdown');
    const beatSchedule = { tick: { task: TASK, schedule: 0.2, catchUp: 'all' } };
    // A TTL of 10 s: stepping down comes a fifth of it (2 s) before the lock expires; a standby that
    // waits for the expiry is 2 s late, one told of the release is in well under a second.
    const lock = { ttl: '10s', retryEvery: '200ms' };
    const clientOf = (label: string) => ({ broker: { url: server.url(0), transportOptions: { clientName: `diag-${label}` } }, lock });
    const a = fleet.spawn({ config: configFile('step-a', name, beatSchedule, clientOf('a')), label: 'A' });
    await a.waitForEvent(EVENTS.lockAcquired, 10_000);
    const b = fleet.spawn({ config: configFile('step-b', name, beatSchedule, clientOf('b')), label: 'B' });
    await b.waitForEvent(EVENTS.standby, 10_000);
    await a.waitForLog('A publishing', (l) => l.event === EVENTS.fire, 5000);

    // Kill every connection of A as soon as it appears, until A gives up leading.
    const killer = server.client(0);
    await killer.connect();
    let storming = true;
    const storm = (async () => {
      while (storming) {
        const list = String(await killer.client('LIST'));
        for (const match of list.matchAll(/^id=(\d+) .* name=diag-a /gm))
          await killer.client('KILL', 'ID', match[1] as string).catch(() => 0);
        await sleep(10);
      }
    })();
    const lost = await a.waitForEvent(EVENTS.lockLost, 15_000).finally(() => {
      storming = false;
    });
    await storm;
    killer.disconnect();

    const taken = await waitUntil(
      'B to lead',
      () => b.events(EVENTS.lockAcquired)[0],
      5000,
      () => fleet.dump(),
    );
    const gapMs = logTimeMs(taken) - logTimeMs(lost);
    // Before the lock's expiry (2 s after the step-down) only a release lets B in. (A logs
    // beat.lock.released too, unless the release was a renewal that completed after the step-down.)
    expect(gapMs, fleet.dump()).toBeLessThan(1000);
    await b.waitForLog('B publishing', (l) => l.event === EVENTS.fire, 5000);
    await sleep(500);
    for (const p of [a, b]) p.signal('SIGTERM');
    for (const p of [a, b]) expect(await p.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(duplicates(await readQueue(redis))).toEqual({ slots: [], ids: [] });
  });
});
