/**
 * The start-up checks of the Redis that holds the state (src/redis/server-checks.ts), against
 * private redis-servers configured with and without persistence, and with CONFIG disabled as
 * managed Redis services do.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { createLogger } from '../../src/base/log.js';
import { checkRedisServer } from '../../src/redis/server-checks.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const servers: PrivateRedis[] = [];

afterAll(async () => {
  for (const s of servers) await s.stop();
});

/** Runs the checks against a private server started with `args`; returns the persistence lines. */
async function persistenceLines(args: readonly string[]): Promise<Record<string, unknown>[]> {
  const server = new PrivateRedis(await freePort(), { args });
  servers.push(server);
  await server.start();
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (t: string) => void lines.push(JSON.parse(t) as Record<string, unknown>) },
  });
  const client = server.client();
  await client.connect();
  try {
    await checkRedisServer(client, logger);
  } finally {
    client.disconnect();
    await server.stop();
  }
  return lines.filter((l) => l['event'] === EVENTS.redisNoPersistence);
}

describe('the persistence check at start (CONFIG GET save, appendonly)', () => {
  it('warns (beat.redis.no_persistence) when Redis keeps nothing on disk: a restart would lose state, fence and queues', async () => {
    const lines = await persistenceLines([]);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        save: '',
        appendonly: 'no',
        msg: expect.stringMatching(/keeps nothing on disk.*Enable RDB snapshots \(save.*appendonly yes/),
      }),
    ]);
  });

  it('is quiet with RDB snapshots (save) alone, and with the append-only file alone', async () => {
    expect(await persistenceLines(['--save', '3600 1'])).toEqual([]);
    expect(await persistenceLines(['--appendonly', 'yes'])).toEqual([]);
  });

  it('does not fail the start when CONFIG is disabled (managed Redis): says at debug level that it could not check', async () => {
    const lines = await persistenceLines(['--rename-command', 'CONFIG', '']);
    expect(lines).toEqual([expect.objectContaining({ level: 'debug', msg: expect.stringMatching(/persistence not checked/) })]);
  });
});
