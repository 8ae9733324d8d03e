/**
 * Start-up checks of the Redis that holds state and messages, for problems that would otherwise
 * lose data silently: an eviction policy that may delete keys, and no persistence (a restart
 * empties it). They warn; neither stops the start. (The clock is checked by ClockGuard.)
 */
import type { RedisClient } from './connect.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';

export async function checkRedisServer(client: RedisClient, logger: Logger): Promise<void> {
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
  await checkPersistence(client, logger);
}

/** CONFIG GET of one parameter; undefined when the server does not say (CONFIG disabled or renamed). */
async function configGet(client: RedisClient, name: string): Promise<string | undefined> {
  const reply = (await client.call('CONFIG', 'GET', name)) as string[];
  return reply[1];
}

/**
 * Warns when Redis keeps nothing on disk: neither RDB snapshots (`save` is empty) nor the
 * append-only file (`appendonly no`). A restart then comes back empty, and the state, the fence and
 * the queued messages are gone with it.
 */
async function checkPersistence(client: RedisClient, logger: Logger): Promise<void> {
  let save: string | undefined;
  let appendonly: string | undefined;
  try {
    save = await configGet(client, 'save');
    appendonly = await configGet(client, 'appendonly');
  } catch (error) {
    logger.debug(
      { event: EVENTS.redisNoPersistence, err: error },
      'could not read save and appendonly (CONFIG GET); persistence not checked',
    );
    return;
  }
  if (save === undefined || appendonly === undefined) return;
  if (save.trim() !== '' || appendonly === 'yes') return;
  logger.warn(
    { event: EVENTS.redisNoPersistence, save, appendonly },
    'Redis keeps nothing on disk (save "" and appendonly no): if it restarts, the schedule state, the lock\'s fence and the queued messages are gone, and every entry starts afresh with its missed runs forgotten. Enable RDB snapshots (save, e.g. "3600 1 300 100 60 10000") or the append-only file (appendonly yes).',
  );
}
