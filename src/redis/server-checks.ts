/**
 * Start-up checks of the Redis that holds state and messages, for problems that would otherwise
 * lose data silently: an eviction policy that may delete keys. (The clock is checked by ClockGuard.)
 */
import type { Redis } from 'ioredis';
import { EVENTS } from '../log-events.js';
import type { Logger } from '../log.js';

export async function checkRedisServer(client: Redis, logger: Logger): Promise<void> {
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
}
