/**
 * Issue 30's chaos proof with RedBeat's own writes: Python saves, edits, deletes and saves again
 * RedBeat entries (test/support/redbeat_client.py --serve, RedBeatSchedulerEntry.save() / delete()
 * as RedBeat's source writes them) several times a second while three `beat run` replicas with
 * `sources.redbeat` lose their leader again and again (SIGKILL, SIGSTOP under and past the lock's
 * TTL; test/support/entry-chaos.ts). The tap is the queue list; the checks are the API variant's
 * (entry-chaos.test.ts) with two differences that RedBeat's entries have by design:
 *   - RedBeat has no catchUp: a missed run fires once (docs/sources.md). The stable entries run
 *     every 5 s, longer than any failover gap (a 2 s TTL), so that each missed slot is still one
 *     that "once" fires: every slot from the first to the last must be there, exactly once.
 *   - tsbeat's publish fences the entry's incarnation, not RedBeat's definition; a delete or an
 *     edit is brought in by the leader's check before each publish of RedBeat entries (their
 *     definitions, one pipelined read, then a look when one differs: src/runtime/read-first.ts),
 *     which publishes only the slots due when the check began. So no slot after a delete or edit
 *     returned runs the old definition: LAG_MS is 0. What the design does not promise: a check that
 *     overruns DEFAULTS.readFirstMaxMs (beat.entries.read_late) or fails (RedBeat's Redis away).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';
import { PYTHON, pythonCelery } from '../support/celery.js';
import { ChaosOracle, chaosScenario, sourceChaosSuite } from '../support/entry-chaos.js';
import type { EntryWriter } from '../support/entry-chaos.js';
import { JsonLineProcess } from '../support/json-lines.js';
import { prng } from '../support/prng.js';

const CLIENT = fileURLToPath(new URL('../support/redbeat_client.py', import.meta.url));
const TASK = 'tsbeat_test.record';
const NAME = 'rbchaos';
const PREFIX = 'rbchaos:';
const QUEUE = 'rbchaos';
const CHAOS_MS = 22_000;
const STABLE_EVERY_S = 5;
// None: the check before each publish (see the header).
const LAG_MS = 0;
const STABLE = ['s0', 's1', 's2', 's3'];
const CHURN = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];
const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

suite(
  `RedBeat entries under chaos: Python's saves and deletes, three replicas, leaders killed and paused (issue 30)${celery.ok ? '' : ` (skipped: ${celery.problem})`}`,
  () => {
    const { suite, start } = sourceChaosSuite(NAME);
    let python: JsonLineProcess | undefined;

    afterAll(async () => {
      await python?.close();
    });

    it('publishes no slot twice, loses none, and never runs a deleted, replaced or not yet saved definition', async () => {
      const url = suite.redis.url(0);
      const chaos = await start(`{ redbeat: { keyPrefix: "${PREFIX}" } }`);

      const py = new JsonLineProcess('redbeat_client.py', PYTHON, [CLIENT, '--serve'], {});
      python = py;
      const writer: EntryWriter = {
        put: async (name, args, stable) => {
          const schedule = { interval: stable ? STABLE_EVERY_S : 1 };
          await py.call({ op: 'save', url, prefix: PREFIX, name, task: TASK, schedule, args, options: { queue: QUEUE } });
        },
        remove: async (name) => {
          await py.call({ op: 'delete', url, prefix: PREFIX, name });
        },
      };
      const oracle = new ChaosOracle(writer, { stable: STABLE, stableIntervalMs: STABLE_EVERY_S * 1000, deployment: NAME, lagMs: LAG_MS });
      const summary = await chaosScenario({
        label: 'entry chaos (RedBeat)',
        replicas: chaos,
        oracle,
        redis: suite.client,
        queue: QUEUE,
        churn: CHURN,
        chaosMs: CHAOS_MS,
        random: prng(31),
      });
      console.log(summary);
    }, 120_000);
  },
);
