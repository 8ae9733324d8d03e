/**
 * The set-up of the tests that change RedBeat's keys and django-celery-beat's rows under a leader
 * (issue 30): a private Redis, a private PostgreSQL migrated for Django, and the sources' own
 * writers: RedBeat's save() and delete() (test/support/redbeat_client.py) and Django's ORM
 * (test/django_project/orm.py). The oracle is the queue list, read with each run's args.
 */
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { decodeEnvelope } from './beat-queue.js';
import { PYTHON } from './celery.js';
import { DjangoOrm, manage } from './django.js';
import { JsonLineProcess } from './json-lines.js';
import { startPrivateRedis } from './ops.js';
import { PrivatePostgres } from './postgres-server.js';
import { freePort } from './redis-server.js';
import type { PrivateRedis } from './redis-server.js';

const CLIENT = fileURLToPath(new URL('./redbeat_client.py', import.meta.url));

/** A run in the queue list: its entry, slot, task id and args. */
export interface QueuedArgs {
  readonly entry: string;
  readonly slotMs: number;
  readonly id: string;
  readonly args: unknown[];
}

export interface SourceWriters {
  readonly server: PrivateRedis;
  readonly redis: Redis;
  readonly pg: PrivatePostgres;
  readonly dbUrl: string;
  readonly orm: DjangoOrm;
  readonly redbeat: JsonLineProcess;
  /** Every run in `queue`, oldest first, with its args. */
  queued(queue: string): Promise<QueuedArgs[]>;
  close(): Promise<void>;
}

/** Starts them; what started is stopped again when a later part fails. */
export async function startSourceWriters(): Promise<SourceWriters> {
  const server = await startPrivateRedis();
  const redis = new Redis(server.url(0));
  let pg: PrivatePostgres | undefined;
  try {
    pg = new PrivatePostgres(await freePort());
    await pg.start();
    await pg.createDatabase('django');
    await manage({ url: pg.url('django') }, ['migrate', '-v0']);
  } catch (error) {
    redis.disconnect();
    await server.stop();
    await pg?.stop();
    throw error;
  }
  const dbUrl = pg.url('django');
  const orm = new DjangoOrm({ url: dbUrl });
  const redbeat = new JsonLineProcess('redbeat_client.py', PYTHON, [CLIENT, '--serve'], {});
  return {
    server,
    redis,
    pg,
    dbUrl,
    orm,
    redbeat,
    async queued(queue) {
      return (await redis.lrange(queue, 0, -1)).reverse().map((text) => {
        const { entry, slotMs, id } = decodeEnvelope(text);
        const { body } = JSON.parse(text) as { body: string };
        const [args] = JSON.parse(Buffer.from(body, 'base64').toString('utf8')) as [unknown[]];
        return { entry, slotMs, id, args };
      });
    },
    async close() {
      await orm.close();
      await redbeat.close();
      redis.disconnect();
      await server.stop();
      await pg.stop();
    },
  };
}
