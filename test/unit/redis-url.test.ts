import { describe, expect, it } from 'vitest';
import { maskUrl, parseRedisUrl, redisClientOptions } from '../../src/config/redis-url.js';
import { Redis } from 'ioredis';
import { parseConfig } from '../../src/config/load.js';
import { connectionProblems } from '../../src/config/connection-checks.js';
import { problemsOf } from '../support/config-problems.js';
import { BeatError, ErrorCode } from '../../src/base/errors.js';
import { silentLogger } from '../../src/base/log.js';
import { SendThenCommitDispatcher } from '../../src/publish/send-then-commit-dispatcher.js';
import { brokerWiring } from '../../src/publish/brokers.js';
import { RedisFencedDispatcher } from '../../src/publish/redis-fenced-dispatcher.js';
import { schedulerKeys } from '../../src/redis/keys.js';

const noFiles = (path: string): Buffer => Buffer.from(`contents of ${path}`);

function failure(run: () => unknown): BeatError {
  try {
    run();
  } catch (error) {
    if (error instanceof BeatError) return error;
    throw error;
  }
  throw new Error('expected a BeatError');
}

describe('redis:// and rediss://', () => {
  it.each([
    ['redis://', { host: '127.0.0.1', port: 6379 }, 0],
    ['redis://cache.internal', { host: 'cache.internal', port: 6379 }, 0],
    ['redis://cache.internal/', { host: 'cache.internal', port: 6379 }, 0],
    ['redis://cache.internal:6380/5', { host: 'cache.internal', port: 6380 }, 5],
    ['redis://[::1]:6381/3', { host: '::1', port: 6381 }, 3],
  ] as const)('reads host, port and the DB from the path of %s', (url, where, db) => {
    const spec = parseRedisUrl(url);
    expect(spec.endpoint).toEqual({ kind: 'tcp', ...where, tls: undefined });
    expect(spec.db).toBe(db);
  });

  it('takes an ACL user and a %-encoded password, and keeps the password out of the display form', () => {
    const spec = parseRedisUrl('redis://beat:pa%40ss%2Fw0rd@h:1234/2');
    expect([spec.username, spec.password]).toEqual(['beat', 'pa@ss/w0rd']);
    expect(spec.display).toBe('redis://beat:***@h:1234/2');
    expect(redisClientOptions(spec, {}, noFiles)).toMatchObject({ host: 'h', port: 1234, db: 2, username: 'beat', password: 'pa@ss/w0rd' });
  });

  it("splits user info at the last '@', as Python's urlsplit does, so a raw '@' in a password works", () => {
    expect(parseRedisUrl('redis://:p@ss@h/1')).toMatchObject({ password: 'p@ss', username: undefined, display: 'redis://:***@h/1' });
  });

  it('passes the ssl_* query options on to TLS', () => {
    const spec = parseRedisUrl(
      'rediss://h:6380/1?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca.pem&ssl_certfile=/etc/c.pem&ssl_keyfile=/etc/k.pem&ssl_check_hostname=false',
    );
    expect(spec.endpoint).toEqual({
      kind: 'tcp',
      host: 'h',
      port: 6380,
      tls: { certReqs: 'required', caCerts: '/etc/ca.pem', certFile: '/etc/c.pem', keyFile: '/etc/k.pem', checkHostname: false },
    });
    const tls = redisClientOptions(spec, {}, noFiles).tls;
    expect(tls).toMatchObject({
      servername: 'h',
      rejectUnauthorized: true,
      ca: Buffer.from('contents of /etc/ca.pem'),
      cert: Buffer.from('contents of /etc/c.pem'),
      key: Buffer.from('contents of /etc/k.pem'),
    });
    expect(tls?.checkServerIdentity?.('other-host', {} as never)).toBeUndefined();
  });

  it('accepts the CERT_* spellings of ssl_cert_reqs', () => {
    const endpoint = parseRedisUrl('rediss://h?ssl_cert_reqs=CERT_OPTIONAL').endpoint;
    expect(endpoint.kind === 'tcp' && endpoint.tls?.certReqs).toBe('optional');
  });

  it('does not verify a rediss:// URL without ssl options, like kombu, but warns how to fix it', () => {
    const spec = parseRedisUrl('rediss://h');
    expect(spec.endpoint).toMatchObject({ tls: { certReqs: 'none', checkHostname: true } });
    expect(spec.warnings).toEqual([
      'TLS without certificate verification (as kombu does for rediss:// without ssl_cert_reqs); add ?ssl_cert_reqs=required&ssl_ca_certs=/path/to/ca.pem to verify the server',
    ]);
    expect(redisClientOptions(spec, {}, noFiles).tls).toMatchObject({ rejectUnauthorized: false });
  });

  it('verifies when some ssl option is given without ssl_cert_reqs (redis-py defaults to required)', () => {
    expect(parseRedisUrl('rediss://h?ssl_ca_certs=/ca.pem')).toMatchObject({ endpoint: { tls: { certReqs: 'required' } }, warnings: [] });
  });

  it("maps kombu's socket options and client name to ioredis options in milliseconds", () => {
    expect(
      redisClientOptions(
        parseRedisUrl('redis://h'),
        { socketConnectTimeout: 1.5, socketTimeout: 2, clientName: 'beat', socketKeepalive: false },
        noFiles,
      ),
    ).toMatchObject({
      connectTimeout: 1500,
      commandTimeout: 2000,
      connectionName: 'beat',
      keepAlive: undefined,
    });
  });
});

describe('redis+socket://', () => {
  it('reads the socket path, and the DB from ?virtual_host= as kombu does', () => {
    expect(parseRedisUrl('redis+socket:///run/redis/redis.sock')).toMatchObject({
      endpoint: { kind: 'socket', path: '/run/redis/redis.sock' },
      db: 0,
    });
    const spec = parseRedisUrl('redis+socket://:pw@/run/redis/redis.sock?virtual_host=4');
    expect(spec).toMatchObject({ db: 4, password: 'pw', display: 'redis+socket://:***@/run/redis/redis.sock?virtual_host=***' });
    expect(redisClientOptions(spec, {}, noFiles)).toMatchObject({ path: '/run/redis/redis.sock', db: 4, password: 'pw' });
  });
});

describe('sentinel://', () => {
  it('lists every sentinel, takes the master name from transportOptions, and the DB and password from the first URL', () => {
    const spec = parseRedisUrl('sentinel://:pw@s1:26379/2;sentinel://s2;sentinel://s3:26380', { masterName: 'mymaster' });
    expect(spec).toMatchObject({
      endpoint: {
        kind: 'sentinel',
        masterName: 'mymaster',
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26379 },
          { host: 's3', port: 26380 },
        ],
      },
      password: 'pw',
      db: 2,
      display: 'sentinel://:***@s1:26379/2;sentinel://s2;sentinel://s3:26380',
    });
    expect(redisClientOptions(spec, { masterName: 'mymaster', sentinelKwargs: { password: 'sentinel-pw' } }, noFiles)).toMatchObject({
      name: 'mymaster',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: 's3', port: 26380 },
      ],
      password: 'pw',
      sentinelPassword: 'sentinel-pw',
      db: 2,
    });
  });
});

describe('refusals: each message names the URL with its password masked', () => {
  it.each([
    ['', 'broker URL is empty; expected e.g. redis://127.0.0.1:6379/0'],
    ['localhost:6379', 'broker URL localhost:6379: expected scheme://host[:port][/db], e.g. redis://127.0.0.1:6379/0'],
    ['redis://:SECRET@h/abc', 'broker URL redis://:***@h/abc: the path must be a database number such as /0, not "abc"'],
    ['redis://u:SECRET@h/1/2', 'broker URL redis://u:***@h/1/2: the path must be a database number such as /0, not "1/2"'],
    ['redis://:SECRET@h:99999/0', 'broker URL redis://:***@h:99999/0: the port must be a number from 0 to 65535, not "99999"'],
    [
      'redis://:SEC/RET@h/0',
      "broker URL redis://:***@h/0: an '@' follows the host part: percent-encode '/', '?' and '#' in the user name and password (%2F, %3F, %23)",
    ],
    ['redis://:SECRET%zz@h/0', 'broker URL redis://:***@h/0: the password has a malformed %-escape'],
    [
      'http://:SECRET@h',
      'broker URL http://:***@h: unsupported scheme "http://"; use redis://, rediss://, redis+socket://, sentinel:// or redis-cluster://',
    ],
    [
      'redis://:SECRET@h/0?ssl_cert_reqs=required',
      'broker URL redis://:***@h/0?ssl_cert_reqs=***: unknown query option "ssl_cert_reqs"; ssl_* options need rediss://',
    ],
    [
      'rediss://:SECRET@h?ssl_cert_reqs=maybe',
      'broker URL rediss://:***@h?ssl_cert_reqs=***: ssl_cert_reqs must be required, optional or none (or CERT_REQUIRED, CERT_OPTIONAL, CERT_NONE), not "maybe"',
    ],
    [
      'rediss://:SECRET@h?ssl_check_hostname=perhaps',
      'broker URL rediss://:***@h?ssl_check_hostname=***: ssl_check_hostname must be true or false, not "perhaps"',
    ],
    [
      'rediss://:SECRET@h?sslcert=x',
      'broker URL rediss://:***@h?sslcert=***: unknown query option "sslcert"; allowed: ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_check_hostname',
    ],
    [
      'redis+socket://:SECRET@host/run/r.sock',
      'broker URL redis+socket://:***@host/run/r.sock: a socket URL has no host ("host"); write redis+socket:///path/to/redis.sock',
    ],
    [
      'redis+socket://:SECRET@',
      'broker URL redis+socket://:***@: a socket URL needs the socket path, e.g. redis+socket:///run/redis/redis.sock',
    ],
    [
      'redis+socket://:SECRET@/r.sock?virtual_host=x',
      'broker URL redis+socket://:***@/r.sock?virtual_host=***: virtual_host must be a database number such as /0, not "x"',
    ],
    [
      'redis://:SECRET@a;redis://:SECRET@b',
      "broker URL redis://:***@a;redis://:***@b: lists of URLs separated by ';' are supported for sentinel:// only",
    ],
  ])('refuses %j', (url, message) => {
    const error = failure(() => parseRedisUrl(url));
    expect(error.code).toBe(ErrorCode.BrokerUrl);
    expect(error.message).toBe(message);
    expect(error.message).not.toContain('SECRET');
    expect(error.cause).toBeUndefined();
  });

  it.each([
    [
      'sentinel://:SECRET@s1',
      {},
      "broker URL sentinel://:***@s1: a sentinel:// URL needs broker.transportOptions.masterName, the name of the monitored master (Celery's master_name)",
    ],
    [
      'sentinel://:SECRET@s1;redis://s2',
      { masterName: 'm' },
      'broker URL sentinel://:***@s1;redis://s2: every URL of a sentinel list must start with sentinel://, not redis://',
    ],
    ['sentinel://:SECRET@/0', { masterName: 'm' }, 'broker URL sentinel://:***@/0: each sentinel:// URL needs a host'],
    [
      'sentinel://:SECRET@s1/0;sentinel://s2/3',
      { masterName: 'm' },
      'broker URL sentinel://:***@s1/0;sentinel://s2/3: kombu takes the database number from the first sentinel URL only; put the same /db on every URL, or only on the first',
    ],
    [
      'sentinel://:SECRET@s1;sentinel://:OTHER@s2',
      { masterName: 'm' },
      'broker URL sentinel://:***@s1;sentinel://:***@s2: kombu takes the user and password from the first sentinel URL only; give them there (or the same on every URL)',
    ],
    [
      'sentinel://:SECRET@s1?ssl_cert_reqs=none',
      { masterName: 'm' },
      'broker URL sentinel://:***@s1?ssl_cert_reqs=***: unknown query option "ssl_cert_reqs"; sentinel:// URLs take no query options (TLS through sentinels is not supported yet)',
    ],
  ] as const)('refuses sentinel list %j', (url, transport, message) => {
    const error = failure(() => parseRedisUrl(url, transport));
    expect(error.message).toBe(message);
    expect(error.message).not.toMatch(/SECRET|OTHER/);
  });

  it('names an unreadable TLS file and the masked URL, keeping the read error as cause', () => {
    const spec = parseRedisUrl('rediss://:SECRET@h?ssl_ca_certs=/missing/ca.pem');
    const error = failure(() =>
      redisClientOptions(spec, {}, () => {
        throw new Error('ENOENT: no such file or directory');
      }),
    );
    expect(error.message).toBe(
      'broker URL rediss://:***@h?ssl_ca_certs=***: cannot read ssl_ca_certs /missing/ca.pem: ENOENT: no such file or directory',
    );
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('publishes a Redis URL through the fenced dispatcher, and hands an AMQP URL to the AMQP one (amqp-url.test.ts covers it)', async () => {
    const state = new Redis({ lazyConnect: true });
    // The registry's publishing of each kind (createPublishing wraps it for chord runs).
    const publishingFor = (url: string) => {
      const config = parseConfig({ broker: { url } }, 't');
      return brokerWiring(config).publishing(config, schedulerKeys('tsbeat', 't'), silentLogger, state);
    };
    const redis = publishingFor('redis://:SECRET@cache:6379/2');
    const amqp = publishingFor('amqp://guest:SECRET@rabbit//');
    expect(redis.dispatcher).toBeInstanceOf(RedisFencedDispatcher);
    expect(amqp.dispatcher).toBeInstanceOf(SendThenCommitDispatcher);
    await Promise.all([redis.close(), amqp.close()]);
  });
});

describe('maskUrl', () => {
  it('masks a password holding / or @ that a simpler pattern would print', () => {
    expect(maskUrl('redis://user:pa/ss@word@host:6379/0')).toBe('redis://user:***@host:6379/0');
    expect(maskUrl('sentinel://:a@s1;sentinel://:b@s2')).toBe('sentinel://:***@s1;sentinel://:***@s2');
    expect(maskUrl('redis://host/0')).toBe('redis://host/0');
  });
});

describe('redis-cluster:// (state and lock on a Redis Cluster)', () => {
  it('lists every seed node, takes the credentials once for all, and is DB 0', () => {
    const spec = parseRedisUrl('redis-cluster://app:S3CRET@10.0.0.1:7000,10.0.0.2:7001, node3 ');
    expect(spec.endpoint).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: 'node3', port: 6379 },
      ],
      tls: undefined,
    });
    expect(spec).toMatchObject({
      username: 'app',
      password: 'S3CRET',
      db: 0,
      display: 'redis-cluster://app:***@10.0.0.1:7000,10.0.0.2:7001, node3',
    });
    expect(redisClientOptions(spec, {}, noFiles)).toMatchObject({ username: 'app', password: 'S3CRET', db: 0 });
    expect(redisClientOptions(spec, {}, noFiles)).not.toHaveProperty('host');
  });

  it('takes TLS options with rediss-cluster://, checked against each node it dials', () => {
    const spec = parseRedisUrl('rediss-cluster://h1:7000,h2:7000/0?ssl_cert_reqs=required&ssl_ca_certs=/ca.pem');
    expect(spec.endpoint).toMatchObject({ kind: 'cluster', tls: { certReqs: 'required', caCerts: '/ca.pem' } });
    const tls = redisClientOptions(spec, {}, noFiles).tls;
    expect(tls).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('contents of /ca.pem') });
    expect(tls).not.toHaveProperty('servername');
  });

  it.each([
    [
      'redis-cluster://:SECRET@h1:7000/3',
      'broker URL redis-cluster://:***@h1:7000/3: a Redis Cluster has database 0 only: remove the /db from the URL',
    ],
    [
      'redis-cluster://:SECRET@h1:7000,,h2:7000',
      'broker URL redis-cluster://:***@h1:7000,,h2:7000: a cluster URL needs its nodes as host:port separated by commas, e.g. redis-cluster://10.0.0.1:6379,10.0.0.2:6379',
    ],
    [
      'redis-cluster://h1:7000?ssl_cert_reqs=required',
      'broker URL redis-cluster://h1:7000?ssl_cert_reqs=***: unknown query option "ssl_cert_reqs"; ssl_* options need rediss-cluster://',
    ],
    ['redis-cluster://h1:99999', 'broker URL redis-cluster://h1:99999: the port must be a number from 0 to 65535, not "99999"'],
  ])('refuses %s', (url, message) => {
    expect(failure(() => parseRedisUrl(url)).message).toBe(message);
  });

  const base = { beatSchedule: { t: { task: 't.t', schedule: 60 } } };
  const problems = (config: Record<string, unknown>): string[] => problemsOf({ ...base, ...config });

  it('is accepted as state.url beside a RabbitMQ or SQS broker, and in lock.urls', () => {
    const accepted = (config: Record<string, unknown>): unknown[] => connectionProblems(parseConfig({ ...base, ...config }, 'test.yaml'));
    expect(accepted({ broker: { url: 'amqp://guest:guest@rabbit//' }, state: { url: 'redis-cluster://h1:7000,h2:7000' } })).toEqual([]);
    expect(
      accepted({
        broker: { url: 'amqp://rabbit//' },
        state: { url: 'redis-cluster://h1:7000' },
        lock: { urls: ['redis-cluster://h1:7000'] },
      }),
    ).toEqual([]);
  });

  it("refuses it as a Redis broker (kombu's Redis transport has no cluster mode), as a Redis broker's state, for RedBeat and as a result backend", () => {
    expect(problems({ broker: { url: 'redis-cluster://:SECRET@h1:7000' } })).toEqual([
      "broker.url: redis-cluster://:***@h1:7000 is a Redis Cluster, and Celery's Redis transport (kombu) does not support cluster mode: no worker could read the queues there. Use RabbitMQ (amqp://) or SQS (sqs://) as the broker, and the cluster for tsbeat's state (state.url)",
    ]);
    expect(problems({ broker: { url: 'redis://h/0' }, state: { url: 'redis-cluster://h1:7000' } })).toEqual([
      "state.url: redis-cluster://h1:7000 is a Redis Cluster: with a Redis broker the state must live on the broker's Redis (one atomic script publishes and moves the state forward), and Celery's Redis transport does not support cluster mode. To keep the state on a cluster, use RabbitMQ (amqp://) or SQS (sqs://) as the broker",
    ]);
    expect(
      problems({
        broker: { url: 'amqp://rabbit//' },
        state: { url: 'redis-cluster://h1:7000' },
        sources: { redbeat: { url: 'redis-cluster://h1:7000' } },
      }),
    ).toEqual([
      "sources.redbeat.url: redis-cluster://h1:7000 is a Redis Cluster: tsbeat reads RedBeat's keys from one Redis server only (its schedule and entries do not share a hash slot)",
    ]);
    expect(problems({ broker: { url: 'amqp://rabbit//' }, resultBackend: 'redis-cluster://h1:7000' })).toEqual([
      "resultBackend: redis-cluster://h1:7000 is a Redis Cluster: Celery's Redis result backend keeps results on one Redis server, so tsbeat reads them from one (redis://, rediss://, sentinel://)",
    ]);
  });
});
