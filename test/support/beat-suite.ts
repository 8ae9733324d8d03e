/**
 * What most integration files share between their tests: a private Redis (its client on DB 0), a
 * fleet of `beat` processes and a temporary folder for configs, all torn down after the file's tests
 * (with any CLI child still running).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { BeatFleet, TempDir } from './beat-process.js';
import { killCliChildren, startPrivateRedis } from './ops.js';
import type { PrivateRedis } from './redis-server.js';

export interface BeatSuite {
  readonly fleet: BeatFleet;
  readonly dir: TempDir;
  /** Started in beforeAll: read it inside a test or a hook. */
  readonly redis: PrivateRedis;
  /** A client of `redis` on DB 0. */
  readonly client: Redis;
}

export interface BeatSuiteOptions {
  /** The start's (beforeAll's) timeout, where a file holds it to less than the hook timeout. */
  readonly startTimeoutMs?: number;
}

/**
 * Call in a describe block (or at a file's top level): registers its beforeAll (start) and afterAll
 * (kill the fleet and CLI children, stop Redis, remove the folder). Hooks a file registers after it
 * run before its afterAll (vitest runs "after" hooks as a stack), while the fleet and Redis are up.
 */
export function beatSuite(options: BeatSuiteOptions = {}): BeatSuite {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis | undefined;
  let client: Redis | undefined;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    client = redis.client(0);
  }, options.startTimeoutMs);
  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    client?.disconnect();
    await redis?.stop();
    dir.remove();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the private Redis starts in beforeAll: read it inside a test or a hook');
    return value;
  };
  return {
    fleet,
    dir,
    get redis() {
      return started(redis);
    },
    get client() {
      return started(client);
    },
  };
}
