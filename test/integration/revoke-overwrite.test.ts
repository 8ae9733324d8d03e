/**
 * Outcomes on Celery >= 5.6.2 (celery#9869): a worker stores REVOKED the moment a revoke arrives,
 * and a running task the revoke does not stop (cancelOther revokes without terminate) stores its
 * SUCCESS over it when it ends. The hazard: tsbeat took the REVOKED for the run's end and showed
 * REVOKED in `beat history`, where docs/outcomes.md promises `SUCCESS (revoked by tsbeat,
 * cancelOther)`. A run's final state is its last final state, followed within outcomeTimeout.
 *
 * No Celery 5.6 package is at hand, so a real 5.2 worker (prefork, one process) writes 5.6's exact
 * sequence: its revoke command stores REVOKED through the backend's own `mark_as_revoked(id,
 * reason='revoked', store_result=True)`, as 5.6's `_revoke` does, before the task ends
 * (test/support/celery_app: TSBEAT_TEST_REVOKE_STORES). Oracles: the state the worker stored in
 * the real Redis result backend (seen REVOKED, then SUCCESS), the history the leader keeps.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { pythonCelery, resultKey, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { runBeatCli, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const QUEUE = `tsbeat-rvk-${process.pid}`;

suite(
  `a REVOKED stored at the revoke and overwritten by the run's end (Celery 5.6)${celery.ok ? '' : ` (skipped: ${celery.problem})`}`,
  () => {
    const fleet = new BeatFleet();
    const dir = new TempDir();
    let redis: PrivateRedis;
    let results: Redis;
    let worker: CeleryProcess | undefined;

    beforeAll(async () => {
      if (!celery.ok) throw new Error(celery.problem);
      redis = await startPrivateRedis();
      results = redis.client(1);
      worker = await startWorker({
        name: QUEUE,
        queues: [QUEUE],
        env: { broker: redis.url(0), backend: redis.url(1), revokeStores: true },
        pool: 'prefork',
      });
    }, 60_000);

    afterAll(async () => {
      await fleet.killAll();
      await stopAll([worker]);
      results?.disconnect();
      await redis?.stop();
      dir.remove();
    });

    const storedState = async (id: string): Promise<string | undefined> => {
      const raw = await results.get(resultKey(id));
      return raw === null ? undefined : (JSON.parse(raw) as { status: string }).status;
    };

    it('a run cancelOther revoked and let finish shows SUCCESS (revoked by tsbeat, cancelOther), not the REVOKED stored first', async () => {
      const file = dir.write('beat.json', {
        name: 'rvk',
        broker: { url: redis.url(0) },
        resultBackend: redis.url(1),
        lock: FAST_LOCK,
        // A 5 s run every 2 s: the first is revoked while it runs, REVOKED for 3 s, then SUCCESS.
        beatSchedule: { slow: { task: 'tsbeat_test.sleepy', schedule: 2, args: [5], overlap: 'cancelOther', options: { queue: QUEUE } } },
      });
      const beat = fleet.spawn({ config: file, args: ['--log-level', 'debug'] });
      const revoke = await beat.waitForEvent(EVENTS.overlapRevoke, 20_000);
      expect(revoke).toMatchObject({ policy: 'cancelOther', terminate: false });
      const first = String(revoke['previous']);

      // The worker stored Celery 5.6's REVOKED at once, then the run's SUCCESS over it.
      await waitUntil('REVOKED stored at the revoke', async () => ((await storedState(first)) === 'REVOKED' ? true : undefined), 5000);
      // The leader saw it REVOKED (it no longer holds the entry back)...
      await waitUntil(
        'the leader to see the REVOKED',
        () => Promise.resolve(beat.events(EVENTS.outcomeFinished).some((l) => l['id'] === first && l['state'] === 'REVOKED') || undefined),
        5000,
        () => fleet.dump(),
      );
      await waitUntil('SUCCESS stored over it', async () => ((await storedState(first)) === 'SUCCESS' ? true : undefined), 10_000);
      // ...and followed it to its end.
      const overwritten = await beat.waitForEvent(EVENTS.outcomeOverwritten, 5000);
      expect(overwritten).toMatchObject({ id: first, state: 'SUCCESS', revokedBy: 'cancelOther' });

      const json = await waitUntil(
        'the history to say SUCCESS',
        async () => {
          const history = await runBeatCli(['history', 'slow', '--config', file, '--json']);
          const record = (JSON.parse(history.stdout) as { taskId: string; state: string; revokedBy?: string; exception?: string }[]).find(
            (r) => r.taskId === first,
          );
          return record?.state === 'SUCCESS' ? record : undefined;
        },
        5000,
      );
      expect(json.revokedBy).toBe('cancelOther');
      expect(json.exception ?? null).toBeNull();
      const text = await runBeatCli(['history', 'slow', '--wide', '--config', file]);
      expect(text.stdout).toMatch(new RegExp(`SUCCESS \\(revoked by tsbeat, cancelOther\\).*${first}`));
      beat.signal('SIGTERM');
      await beat.waitForExit(10_000);
    }, 60_000);
  },
);
