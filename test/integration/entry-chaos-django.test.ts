/**
 * Issue 30's chaos proof with Django's ORM: a Python process (test/django_project/orm.py) creates,
 * edits, deletes and creates again PeriodicTask rows (with their IntervalSchedule) on a private
 * PostgreSQL several times a second, while three `beat run` replicas with `sources.django` lose their
 * leader again and again (SIGKILL, SIGSTOP under and past the lock's TTL; test/support/entry-chaos.ts)
 * and PostgreSQL is stopped (fast shutdown) and started again once, 3 s later; the writer waits
 * while it is down, and until every replica reads the tables again (their retry delay); it stops
 * only once every replica has seen the writer's last change (what is known keeps running while the
 * database is away). The tap is the queue list; the checks are the API variant's
 * (entry-chaos.test.ts) with two differences that django's rows have by design:
 *   - django-celery-beat has no catchUp: a missed run fires once (docs/sources.md). The stable rows
 *     run every 5 s, longer than any failover gap (a 2 s TTL), so that each missed slot is still
 *     one that "once" fires: every slot from the first to the last must be there, exactly once.
 *   - tsbeat's publish fences the row's incarnation, not its columns; a delete or an edit is
 *     brought in by the leader's check before each publish of django rows (the change marker,
 *     then a look when it moved: src/runtime/read-first.ts), which publishes only the slots due
 *     when the check began. An ORM save or delete moves the marker before it returns, so no slot
 *     after a delete or edit returned runs the old definition: LAG_MS is 0. What the design does
 *     not promise, and this test avoids: writes that bypass the ORM, and a check or read that
 *     overruns DEFAULTS.readFirstMaxMs (beat.entries.read_late) or meets the database down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { logTimeMs, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { DjangoOrm, manage } from '../support/django.js';
import { ChaosOracle, chaosScenario, sourceChaosSuite } from '../support/entry-chaos.js';
import type { EntryWriter } from '../support/entry-chaos.js';
import { PrivatePostgres } from '../support/postgres-server.js';
import { prng } from '../support/prng.js';
import { freePort } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';
const NAME = 'djchaos';
const QUEUE = 'djchaos';
const CHAOS_MS = 22_000;
const STABLE_EVERY_S = 5;
// None: the check before each publish (see the header); a replica that takes the lead, or wakes
// from a pause, also reads the tables before it publishes (test/integration/source-read-first.test.ts).
const LAG_MS = 0;
/** How long the rows must have been left alone, no replica paused, before PostgreSQL stops (below). */
const SETTLE_MS = 1000;
/** When in the chaos PostgreSQL stops, and for how long. */
const PG_DOWN_AT_MS = 10_000;
const PG_DOWN_MS = 3000;
const STABLE = ['s0', 's1', 's2', 's3'];
const CHURN = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];

describe('django rows under chaos: ORM writes, three replicas, leaders killed and paused, PostgreSQL restarted (issue 30)', () => {
  const { suite, start } = sourceChaosSuite(NAME);
  let pg: PrivatePostgres;
  let orm: DjangoOrm | undefined;

  beforeAll(async () => {
    pg = new PrivatePostgres(await freePort());
    await pg.start();
    await pg.createDatabase('django');
    await manage({ url: pg.url('django') }, ['migrate', '-v0']);
  }, 120_000);

  afterAll(async () => {
    await orm?.close();
    await pg?.stop();
  });

  it('publishes no slot twice, loses none, and never runs a deleted, replaced or not yet created row', async () => {
    const dbUrl = pg.url('django');
    const chaos = await start(`{ django: { url: "${dbUrl}" } }`);

    const session = new DjangoOrm({ url: dbUrl });
    orm = session;
    /** ORM calls in flight, and whether PostgreSQL is (about to be) down: the writers wait then. */
    let calls = 0;
    let dbDown = false;
    const call = async (command: Record<string, unknown>): Promise<void> => {
      calls += 1;
      try {
        await session.call(command);
      } finally {
        calls -= 1;
      }
    };
    const writer: EntryWriter = {
      // Version 0 is a creation; any other an edit of the row's args.
      put: (name, args, stable) =>
        args[2] === 0
          ? call({
              op: 'create',
              name,
              task: TASK,
              interval: { every: stable ? STABLE_EVERY_S : 1, period: 'seconds' },
              args,
              queue: QUEUE,
            })
          : call({ op: 'edit', name, args }),
      remove: (name) => call({ op: 'delete', name }),
    };
    const oracle = new ChaosOracle(writer, { stable: STABLE, stableIntervalMs: STABLE_EVERY_S * 1000, deployment: NAME, lagMs: LAG_MS });
    let restarted = false;
    let rereadMs = 0;
    /** Not running, or running (not paused) with its last failed read of the tables since `sinceMs` followed by a reconnection. */
    const readsAgain = (p: BeatProcess, sinceMs: number): boolean => {
      if (!p.alive) return true;
      if (chaos.stopped.has(p)) return false;
      const since = p.logs.filter((l) => logTimeMs(l) >= sinceMs);
      const failed = since.findLastIndex((l) => l.event === EVENTS.entriesSyncFailed && l['origin'] === 'django');
      return failed === -1 || since.slice(failed).some((l) => l.event === EVENTS.djangoReconnected);
    };
    const summary = await chaosScenario({
      label: 'entry chaos (django)',
      replicas: chaos,
      oracle,
      redis: suite.client,
      queue: QUEUE,
      churn: CHURN,
      chaosMs: CHAOS_MS,
      random: prng(32),
      ready: async () => {
        await waitUntil('PostgreSQL back', () => (dbDown ? undefined : true), 60_000);
      },
      alongside: async () => {
        await sleep(PG_DOWN_AT_MS);
        dbDown = true;
        await waitUntil('the ORM calls to return', () => (calls === 0 ? true : undefined), 10_000);
        // The rows known when the database goes away keep running (docs/sources.md): the writer's
        // last changes must have been seen first, by every replica (a paused one would wake up to
        // what it knew before), so the database stops only after SETTLE_MS (a look's period, 200 ms,
        // and the look on a loaded machine) with no replica paused.
        await chaos.unpausedFor(SETTLE_MS);
        const haltMs = Date.now();
        chaos.mark('pg-halt');
        await pg.halt();
        await sleep(PG_DOWN_MS);
        await pg.start();
        chaos.mark('pg-up');
        const upMs = Date.now();
        // orm.py's connection died with the server: its first command fails and connects again.
        await session.call({ op: 'get', name: STABLE[0] }).catch(() => undefined);
        // A replica reads the tables again only after its retry delay (1 s, doubled per failed read:
        // docs/sources.md), and until then its leader's check before a publish tells nothing (what
        // is known keeps running): the writer waits until every running replica that failed a read
        // has read again (beat.django.reconnected), so that a change is checked for before the
        // next publish, as the docs promise, not after the retry delay.
        await waitUntil(
          'every running replica to read the tables again',
          () => (suite.fleet.all.every((p) => readsAgain(p, haltMs)) ? true : undefined),
          40_000,
          () => suite.fleet.dump(),
        );
        rereadMs = Date.now() - upMs;
        chaos.mark('writer-resumes');
        dbDown = false;
        restarted = true;
      },
    });
    expect(restarted).toBe(true);
    console.log(
      `${summary}; PostgreSQL down ${String(PG_DOWN_MS)} ms, every replica reading again ${String(rereadMs)} ms after it was back`,
    );
  }, 150_000);
});
