/**
 * Every broker URL form against real servers: a private redis-server (TCP with an ACL user, a Unix
 * socket, TLS with a throw-away CA) and a private Sentinel in front of it. Checks that the message,
 * sent as `beat run` sends it (the fenced dispatcher, under the lock won on the same URL), lands in
 * the DB the URL names, and that a password never reaches an error or a log line.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTransport } from '../../src/kombu/redis-transport.js';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { parseConfig } from '../../src/config/load.js';
import type { TransportOptionsInput } from '../../src/config/options-schema.js';
import { BeatError, ErrorCode } from '../../src/base/errors.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { createLogger } from '../../src/base/log.js';
import { RedisFencedDispatcher } from '../../src/publish/redis-fenced-dispatcher.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { dueRunOf, leadingPublisher } from '../support/leading-publisher.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';
import { waitFor } from '../support/celery.js';
import { ENV, config, entry } from '../support/messages.js';

const ADMIN_PASSWORD = 'admin-pw';
/** Holds '/', '@' and ':' so that it must be %-encoded in a URL, and a weak redaction would print part of it. */
const PASSWORD = 'S3cret/pa@ss:word';
const WRONG = 'Wr0ng/Secret@guess';
const enc = encodeURIComponent;

function openssl(dir: string, ...args: string[]): void {
  const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${run.stderr}`);
}

/** A CA and a server certificate for localhost/127.0.0.1 signed by it, valid for a day. */
function makeCertificates(dir: string): void {
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=tsbeat-test-ca',
  );
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '1',
    '-extfile',
    'ext.cnf',
  );
}

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe.skipIf(!hasOpenssl && !process.env['CI'])('broker URLs against private Redis and Sentinel servers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbeat-connect-'));
  const socket = join(dir, 'redis.sock');
  const logLines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } });
  let server: PrivateRedis;
  let tlsPort: number;
  let sentinelPort: number;
  let sentinel: ChildProcess | undefined;
  let admin: (db: number) => Redis;

  beforeAll(async () => {
    makeCertificates(dir);
    const port = await freePort();
    tlsPort = await freePort();
    sentinelPort = await freePort();
    server = new PrivateRedis(port, {
      password: ADMIN_PASSWORD,
      args: [
        '--unixsocket',
        socket,
        '--unixsocketperm',
        '700',
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        join(dir, 'server.crt'),
        '--tls-key-file',
        join(dir, 'server.key'),
        '--tls-ca-cert-file',
        join(dir, 'ca.crt'),
        '--tls-auth-clients',
        'no',
        '--user',
        'beat',
        'on',
        `>${PASSWORD}`,
        '~*',
        '&*',
        '+@all',
      ],
    });
    await server.start();
    admin = (db) => new Redis({ port, db, password: ADMIN_PASSWORD });
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `sentinel monitor tsbeat-master 127.0.0.1 ${port} 1`,
        `sentinel auth-pass tsbeat-master ${ADMIN_PASSWORD}`,
        '',
      ].join('\n'),
    );
    sentinel = spawn('/usr/bin/redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    process.once('exit', () => sentinel?.kill('SIGKILL'));
    const probe = new Redis({ port: sentinelPort, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    await waitFor(
      'the sentinel to know its master',
      async () => {
        try {
          if (probe.status !== 'ready') await probe.connect();
          const address = (await probe.call('SENTINEL', 'get-master-addr-by-name', 'tsbeat-master')) as string[] | null;
          return address?.[1] === String(port) ? true : undefined;
        } catch {
          probe.disconnect();
          return undefined;
        }
      },
      15_000,
    );
    probe.disconnect();
  });

  afterAll(async () => {
    sentinel?.kill('SIGKILL');
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Publishes one message as `beat run` does with broker `url`; returns the list length in `db` afterwards. */
  async function publishThrough(url: string, db: number, transportOptions: TransportOptionsInput = {}): Promise<number> {
    const check = admin(db);
    await check.del('celery');
    const publisher = await leadingPublisher(
      parseConfig({ name: `connect-${db}`, broker: { url, transportOptions } }, 'redis-connect.test'),
      logger,
    );
    try {
      const now = Date.now();
      const message = renderTaskMessage(compileMessageTemplate(entry(), config(), ENV), {
        taskId: `id-${db}-${now}`,
        slotMs: now,
        nowMs: now,
      });
      expect(await publisher.dispatch([dueRunOf(message, now)])).toEqual({ fenced: false, outcomes: ['published'] });
      return await check.llen('celery');
    } finally {
      await publisher.close();
      check.disconnect();
    }
  }

  /**
   * Dispatches `message` through the fenced dispatcher on a broker connection to `url` that cannot
   * be made (no lock can be won there): it fails before the fence is read.
   */
  async function dispatchRefused(url: string, message: TaskMessage): Promise<void> {
    const transport = new RedisTransport({ url, transportOptions: {}, logger });
    try {
      const dispatcher = new RedisFencedDispatcher(transport, schedulerKeys('tsbeat', 'connect'), logger, DEFAULTS.maxClockSkewMs);
      await dispatcher.dispatch([dueRunOf(message, 0)], 'no-lock-won', Date.now());
    } finally {
      await transport.close();
    }
  }

  it('reaches the DB in the path with an ACL user and a %-encoded password (redis://)', async () => {
    expect(await publishThrough(`redis://beat:${enc(PASSWORD)}@127.0.0.1:${server.port}/5`, 5)).toBe(1);
  });

  it('reaches the DB in virtual_host through a Unix socket (redis+socket://)', async () => {
    expect(await publishThrough(`redis+socket://beat:${enc(PASSWORD)}@${socket}?virtual_host=3`, 3)).toBe(1);
  });

  it('verifies the server against ssl_ca_certs (rediss://)', async () => {
    expect(
      await publishThrough(
        `rediss://beat:${enc(PASSWORD)}@localhost:${tlsPort}/2?ssl_cert_reqs=required&ssl_ca_certs=${join(dir, 'ca.crt')}`,
        2,
      ),
    ).toBe(1);
  });

  it('refuses a server it cannot verify when ssl_cert_reqs=required and no CA is given', async () => {
    const message = renderTaskMessage(compileMessageTemplate(entry(), config(), ENV), {
      taskId: 'tls-refused',
      slotMs: 0,
      nowMs: Date.now(),
    });
    await expect(
      dispatchRefused(`rediss://beat:${enc(PASSWORD)}@localhost:${tlsPort}/2?ssl_cert_reqs=required`, message),
    ).rejects.toMatchObject({ code: ErrorCode.BrokerPublish });
  });

  it('connects without verification when rediss:// has no ssl options, as kombu does, and warns', async () => {
    expect(await publishThrough(`rediss://beat:${enc(PASSWORD)}@127.0.0.1:${tlsPort}/6`, 6)).toBe(1);
    expect(logLines.some((l) => l.includes('"event":"beat.broker.warning"') && l.includes('ssl_cert_reqs=required'))).toBe(true);
  });

  it('finds the master through the sentinels named in a sentinel:// list (masterName)', async () => {
    const url = `sentinel://beat:${enc(PASSWORD)}@127.0.0.1:${sentinelPort}/4;sentinel://127.0.0.1:${sentinelPort}`;
    expect(await publishThrough(url, 4, { masterName: 'tsbeat-master' })).toBe(1);
  });

  it('fails with BROKER_PUBLISH on a wrong password, and the password is in no error and no log line', async () => {
    let caught: unknown;
    try {
      const message = renderTaskMessage(compileMessageTemplate(entry(), config(), ENV), {
        taskId: 'wrong-password',
        slotMs: 0,
        nowMs: Date.now(),
      });
      await dispatchRefused(`redis://beat:${enc(WRONG)}@127.0.0.1:${server.port}/5`, message);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(BeatError);
    expect((caught as BeatError).code).toBe(ErrorCode.BrokerPublish);
    const texts: string[] = [];
    for (let e: unknown = caught; e instanceof Error; e = e.cause) texts.push(e.message, e.stack ?? '', JSON.stringify(e));
    const everything = [...texts, ...logLines].join('\n');
    for (const secret of [WRONG, enc(WRONG), PASSWORD, enc(PASSWORD), 'Secret', 'S3cret']) expect(everything).not.toContain(secret);
    // The masked URL is what operators see.
    expect((caught as BeatError).message).toContain(`redis://beat:***@127.0.0.1:${server.port}/5`);
  });
});
