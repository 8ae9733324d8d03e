/**
 * Start-up checks of the Redis that holds state and messages, for problems that would otherwise
 * lose data silently: an eviction policy that may delete keys, and a local clock that disagrees
 * with the server's.
 */
import type { Redis } from 'ioredis';
import { EVENTS } from '../log-events.js';
import type { Logger } from '../log.js';

/** Beyond this the local clock is reported as skewed. */
export const MAX_CLOCK_SKEW_MS = 1000;

export async function checkRedisServer(client: Redis, clock: { now(): number }, logger: Logger): Promise<void> {
  try {
    const reply = (await client.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy !== undefined && policy !== 'noeviction') {
      logger.warn(
        { event: EVENTS.redisWarning, maxmemoryPolicy: policy },
        `Redis maxmemory-policy is "${policy}": under memory pressure Redis may evict ${policy.startsWith('volatile') ? 'keys with an expiry, such as the lock' : 'any key: queued messages and the schedule state'} without telling anyone. Set maxmemory-policy noeviction.`,
      );
    }
  } catch (error) {
    // Managed Redis services often disable CONFIG; that is no reason not to start.
    logger.debug({ event: EVENTS.redisWarning, err: error }, 'could not read maxmemory-policy');
  }
  try {
    const before = clock.now();
    const [seconds, micros] = (await client.time()) as [string | number, string | number];
    const after = clock.now();
    const server = Number(seconds) * 1000 + Number(micros) / 1000;
    const skew = (before + after) / 2 - server;
    if (Math.abs(skew) > MAX_CLOCK_SKEW_MS) {
      logger.warn(
        { event: EVENTS.clockSkew, skewMs: Math.round(skew) },
        `the local clock is ${Math.round(Math.abs(skew))} ms ${skew > 0 ? 'ahead of' : 'behind'} the Redis server's: schedules fire by the local clock and lock times assume the clocks agree. Synchronise the clock (NTP).`,
      );
    }
  } catch (error) {
    logger.debug({ event: EVENTS.clockSkew, err: error }, 'could not read the Redis server time');
  }
}
