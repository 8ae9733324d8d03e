/**
 * `beat run` on django-celery-beat's tables in MariaDB (Django's MySQL backend), with the same
 * scenario as PostgreSQL's (test/support/django-run.ts): ORM creates, edits, disables and deletes
 * under a leader and a standby, applied within 1.5 s, written back, nothing published twice across
 * a SIGKILL of the leader, a real Celery worker executing the runs.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { BeatFleet, TempDir } from '../support/beat-process.js';
import type { CeleryProcess } from '../support/celery.js';
import { DjangoOrm, manage } from '../support/django.js';
import { ormChangesScenario } from '../support/django-run.js';
import { PrivateMariaDb } from '../support/mariadb-server.js';
import { startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

describe('beat run on django-celery-beat tables (MariaDB, leader and standby, a Celery worker)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const mariadb = new PrivateMariaDb(23308);
  const dbUrl = mariadb.url('django');
  const workers: CeleryProcess[] = [];
  let redisServer: PrivateRedis;
  let redis: Redis;
  let orm: DjangoOrm;

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    redis = new Redis(redisServer.url(1));
    await mariadb.start();
    await mariadb.createDatabase('django');
    await manage({ url: dbUrl }, ['migrate', '-v0']);
    orm = new DjangoOrm({ url: dbUrl });
  }, 120_000);

  afterAll(async () => {
    await fleet.killAll();
    for (const worker of workers) await worker.stop();
    await orm?.close();
    redis?.disconnect();
    await redisServer?.stop();
    await mariadb.stop();
    dir.remove();
  });

  it('follows ORM creates, edits, disables and deletes within 1.5 s, writes runs back, and publishes nothing twice across a SIGKILL', async () => {
    await ormChangesScenario({ name: 'djmaria', fleet, dir, redisServer, redis, orm, dbUrl, workers });
  }, 120_000);
});
