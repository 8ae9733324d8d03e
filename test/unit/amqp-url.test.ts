import { describe, expect, it } from 'vitest';
import { reconnectDelayMs } from '../../src/amqp/connection.js';
import { amqpConnectOptions, parseAmqpUrl } from '../../src/config/amqp-url.js';
import { brokerKindIfKnown } from '../../src/config/broker-kinds.js';
import type { AmqpEndpoint } from '../../src/config/amqp-url.js';
import { Redis } from 'ioredis';
import { AmqpTransport } from '../../src/amqp/transport.js';
import { parseConfig } from '../../src/config/load.js';
import { BeatError, ConfigError, ErrorCode } from '../../src/base/errors.js';
import { silentLogger } from '../../src/base/log.js';
import { SendThenCommitDispatcher } from '../../src/publish/send-then-commit-dispatcher.js';
import { brokerWiring } from '../../src/publish/brokers.js';
import { stateUrlFor } from '../../src/config/broker-kinds.js';
import type { Publishing } from '../../src/publish/publishing.js';
import { schedulerKeys } from '../../src/redis/keys.js';

function failure(run: () => unknown): BeatError {
  try {
    run();
  } catch (error) {
    if (error instanceof BeatError) return error;
    throw error;
  }
  throw new Error('expected a BeatError');
}

/** The publishing the broker registry builds for a broker URL (before createPublishing wraps it for chord runs), with a state client that never connects. */
function publishingFor(url: string): Publishing {
  const config = parseConfig({ broker: { url } }, 't');
  return brokerWiring(config).publishing(config, schedulerKeys('tsbeat', 't'), silentLogger, new Redis({ lazyConnect: true }));
}

const one = (url: string): AmqpEndpoint => {
  const spec = parseAmqpUrl(url);
  expect(spec.endpoints).toHaveLength(1);
  return spec.endpoints[0] as AmqpEndpoint;
};

describe('amqp:// as kombu reads it', () => {
  it.each([
    // kombu strips ONE leading '/' and decodes the rest: Celery's classic `//` is the vhost "/".
    ['amqp://guest:guest@127.0.0.1:5672//', '/'],
    ['amqp://guest@localhost//', '/'],
    ['amqp://rabbit', '/'],
    ['amqp://rabbit/', '/'],
    ['amqp://rabbit/prod', 'prod'],
    ['amqp://rabbit/%2F', '/'],
    ['amqp://rabbit//team', '/team'],
    ['amqp://rabbit/a%2Fb%20c', 'a/b c'],
  ])('reads the vhost of %s as %j', (url, vhost) => {
    expect(one(url).vhost).toBe(vhost);
  });

  it('fills in what kombu fills in: localhost (dialled as 127.0.0.1), port 5672, guest/guest, a 20 s heartbeat', () => {
    expect(one('amqp://')).toMatchObject({
      host: 'localhost',
      dialHost: '127.0.0.1',
      port: 5672,
      username: 'guest',
      password: 'guest',
      vhost: '/',
      tls: undefined,
      heartbeatS: 20,
      connectTimeoutMs: 10_000,
    });
    // A user without a password gets kombu's default password, each filled in on its own.
    expect(one('amqp://bob@rabbit//')).toMatchObject({ username: 'bob', password: 'guest' });
    expect(one('amqp://:pw@rabbit//')).toMatchObject({ username: 'guest', password: 'pw' });
    expect(one('pyamqp://rabbit:5680/v')).toMatchObject({ host: 'rabbit', dialHost: 'rabbit', port: 5680, vhost: 'v', tls: undefined });
    expect(one('amqp://[::1]:5673//')).toMatchObject({ host: '::1', port: 5673 });
  });

  it('decodes a user name and password holding @, / and : (percent-encoded)', () => {
    expect(one('amqp://us%40er:p%40ss%2Fw%3Ard@rabbit//')).toMatchObject({ username: 'us@er', password: 'p@ss/w:rd' });
  });

  it('amqps:// verifies the server by default (port 5671, host name checked) and reads ssl_* options', () => {
    expect(one('amqps://rabbit//').tls).toEqual({ certReqs: 'required', checkHostname: true });
    expect(one('amqps://rabbit//').port).toBe(5671);
    const tls = one('amqps://rabbit//?ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem&ssl_check_hostname=false').tls;
    expect(tls).toEqual({ certReqs: 'required', caCerts: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem', checkHostname: false });
  });

  it('warns about TLS without verification', () => {
    expect(parseAmqpUrl('amqps://rabbit//?ssl_cert_reqs=CERT_NONE').warnings).toEqual([
      'TLS without certificate verification (ssl_cert_reqs=none): anyone on the path can read and alter the messages; add ?ssl_ca_certs=/path/to/ca.pem and drop ssl_cert_reqs=none',
    ]);
  });

  it('reads heartbeat and connect_timeout (seconds) from the query', () => {
    expect(one('amqp://rabbit//?heartbeat=0&connect_timeout=2.5')).toMatchObject({ heartbeatS: 0, connectTimeoutMs: 2500 });
  });

  it("takes ';'-separated URLs as failover hosts, each with its own credentials and vhost, masking every password", () => {
    const spec = parseAmqpUrl('amqp://a:SECRET1@r1//;amqps://b:SECRET2@r2:5681/v');
    expect(spec.endpoints.map((e) => [e.host, e.port, e.username, e.password, e.vhost, e.tls === undefined])).toEqual([
      ['r1', 5672, 'a', 'SECRET1', '/', true],
      ['r2', 5681, 'b', 'SECRET2', 'v', false],
    ]);
    expect(spec.display).toBe('amqp://a:***@r1//;amqps://b:***@r2:5681/v');
    expect(spec.endpoints.map((e) => e.display)).toEqual(['amqp://a:***@r1//', 'amqps://b:***@r2:5681/v']);
  });

  it('tells AMQP URLs from the others by their first scheme', () => {
    const isAmqpUrl = (url: string) => brokerKindIfKnown(url)?.name === 'amqp';
    expect(['amqp://x', 'AMQPS://x', 'pyamqp://x', ' amqp://x'].map(isAmqpUrl)).toEqual([true, true, true, true]);
    expect(['redis://x', 'rediss://x', 'sentinel://x', 'librabbitmq://x', 'x'].map(isAmqpUrl)).toEqual([false, false, false, false, false]);
  });
});

describe('refusals: each message names the URL with its password masked', () => {
  it.each([
    ['', 'broker URL is empty; expected e.g. amqp://guest:guest@127.0.0.1:5672//'],
    ['amqp://:SECRET@h:99999//', 'broker URL amqp://:***@h:99999//: the port must be a number from 1 to 65535, not "99999"'],
    ['amqp://u:SECRET@h:abc//', 'broker URL amqp://u:***@h:abc//: the port must be a number from 1 to 65535, not "abc"'],
    [
      'amqp://:SEC/RET@h//',
      "broker URL amqp://:***@h//: an '@' follows the host part: percent-encode '/', '?' and '#' in the user name and password (%2F, %3F, %23)",
    ],
    ['amqp://:SECRET%zz@h//', 'broker URL amqp://:***@h//: the password has a malformed %-escape'],
    ['amqp://:SECRET@h/%zz', 'broker URL amqp://:***@h/%zz: the virtual host (path) has a malformed %-escape'],
    [
      'amqp://:SECRET@h//?ssl_cert_reqs=required',
      'broker URL amqp://:***@h//?ssl_cert_reqs=***: ssl_cert_reqs needs an amqps:// URL (TLS); amqp:// connects without TLS',
    ],
    [
      'amqp://:SECRET@h//?frame_max=1',
      'broker URL amqp://:***@h//?frame_max=***: unknown query option "frame_max"; allowed: heartbeat, connect_timeout',
    ],
    [
      'amqps://:SECRET@h//?sslcert=x',
      'broker URL amqps://:***@h//?sslcert=***: unknown query option "sslcert"; allowed: heartbeat, connect_timeout, ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_check_hostname',
    ],
    [
      'amqps://:SECRET@h//?ssl_cert_reqs=maybe',
      'broker URL amqps://:***@h//?ssl_cert_reqs=***: ssl_cert_reqs must be required, optional or none (or CERT_REQUIRED, CERT_OPTIONAL, CERT_NONE), not "maybe"',
    ],
    [
      'amqps://:SECRET@h//?ssl_check_hostname=perhaps',
      'broker URL amqps://:***@h//?ssl_check_hostname=***: ssl_check_hostname must be true or false, not "perhaps"',
    ],
    ['amqp://:SECRET@h//?heartbeat=soon', 'broker URL amqp://:***@h//?heartbeat=***: heartbeat must be a number of seconds, not "soon"'],
    [
      'amqp://:SECRET@h//?connect_timeout=0',
      'broker URL amqp://:***@h//?connect_timeout=***: connect_timeout must be a number of seconds above 0, not "0"',
    ],
    [
      'amqp://:SECRET@a//;redis://:SECRET@b/0',
      'broker URL amqp://:***@a//;redis://:***@b/0: every URL of the list must start with amqp://, amqps:// or pyamqp://, not redis://',
    ],
  ])('refuses %j', (url, message) => {
    const error = failure(() => parseAmqpUrl(url));
    expect(error.code).toBe(ErrorCode.BrokerUrl);
    expect(error.message).toBe(message);
    expect(error.message).not.toContain('SECRET');
    expect(error.cause).toBeUndefined();
  });
});

describe('amqplib options', () => {
  const files = (path: string): Buffer => Buffer.from(`contents of ${path}`);

  it('passes host, port, credentials, vhost and heartbeat, with the vhost escaped for amqplib (which decodes it again)', () => {
    const options = amqpConnectOptions(one('amqp://u:p@localhost:5673/50%25off'), files, 'tsbeat test');
    expect(options.connect).toEqual({
      protocol: 'amqp',
      hostname: '127.0.0.1',
      port: 5673,
      username: 'u',
      password: 'p',
      vhost: '50%25off',
      heartbeat: 20,
    });
    expect(options.socket).toEqual({ timeout: 10_000, noDelay: true, clientProperties: { connection_name: 'tsbeat test' } });
  });

  it('verifies TLS against the CA file and the host name as written (not the address dialled)', () => {
    const options = amqpConnectOptions(one('amqps://localhost//?ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem'), files, 'n');
    expect(options.connect.protocol).toBe('amqps');
    expect(options.socket).toMatchObject({
      servername: 'localhost',
      rejectUnauthorized: true,
      ca: files('/ca.pem'),
      cert: files('/c.pem'),
      key: files('/k.pem'),
    });
    expect(options.socket.checkServerIdentity).toBeUndefined();
    const lax = amqpConnectOptions(one('amqps://r//?ssl_cert_reqs=none&ssl_check_hostname=false'), files, 'n').socket;
    expect(lax.rejectUnauthorized).toBe(false);
    expect(lax.checkServerIdentity?.('r', {} as never)).toBeUndefined();
  });
});

describe('TLS files', () => {
  it('names a TLS file that cannot be read, at start-up rather than on every reconnect', () => {
    const error = failure(() => publishingFor('amqps://u:SECRET@rabbit//?ssl_ca_certs=/nonexistent/ca.pem'));
    expect(error.code).toBe(ErrorCode.BrokerUrl);
    expect(error.message).toMatch(
      /^broker URL amqps:\/\/u:\*\*\*@rabbit\/\/\?ssl_ca_certs=\*\*\*: cannot read the ssl_ca_certs file "\/nonexistent\/ca.pem": ENOENT/,
    );
  });
});

describe('an AMQP URL', () => {
  it('publishes through the AMQP transport and dispatcher, without connecting', async () => {
    const publishing = publishingFor('amqp://guest:SECRET@rabbit//');
    expect(publishing.dispatcher).toBeInstanceOf(SendThenCommitDispatcher);
    expect(publishing.ready()).toBe(false);
    await publishing.close();
  });

  it('refuses x-max-priority together with quorum queues, which RabbitMQ would refuse with 406', () => {
    const error = failure(
      () =>
        new AmqpTransport({
          url: 'amqp://rabbit//',
          transportOptions: {},
          queues: {
            taskDefaultQueue: 'celery',
            taskQueueMaxPriority: 10,
            taskDefaultQueueType: 'quorum',
            taskCreateMissingQueueType: 'classic',
          },
          logger: silentLogger,
        }),
    );
    expect(error.code).toBe(ErrorCode.ConfigInvalid);
    expect(error.message).toBe(
      'taskQueueMaxPriority (x-max-priority) cannot be used with taskDefaultQueueType: "quorum": RabbitMQ refuses x-max-priority on a quorum queue (406 PRECONDITION_FAILED); remove one of the two',
    );
  });
});

describe('configuration for an AMQP broker', () => {
  it('keeps state and lock in the local Redis by default (RabbitMQ cannot hold them), or in state.url', () => {
    expect(stateUrlFor(parseConfig({ broker: { url: 'amqp://guest@rabbit//' } }, 't'))).toBe('redis://127.0.0.1:6379/0');
    expect(stateUrlFor(parseConfig({ broker: { url: 'amqps://rabbit//' }, state: { url: 'redis://state:6379/3' } }, 't'))).toBe(
      'redis://state:6379/3',
    );
    expect(stateUrlFor(parseConfig({ broker: { url: 'redis://cache:6379/2' } }, 't'))).toBe('redis://cache:6379/2');
  });

  it("reads Celery's queue settings in either spelling, with Celery's defaults", () => {
    expect(parseConfig({}, 't')).toMatchObject({
      taskQueueMaxPriority: undefined,
      taskDefaultQueueType: 'classic',
      taskCreateMissingQueueType: 'classic',
    });
    expect(parseConfig({ task_queue_max_priority: 10, task_default_queue_type: 'classic' }, 't')).toMatchObject({
      taskQueueMaxPriority: 10,
      taskDefaultQueueType: 'classic',
    });
    expect(parseConfig({ task_default_queue_type: 'quorum', task_create_missing_queue_type: 'quorum' }, 't')).toMatchObject({
      taskDefaultQueueType: 'quorum',
      taskCreateMissingQueueType: 'quorum',
    });
  });

  it('refuses a max priority on quorum queues when the config is read, not at the first publish', () => {
    expect(() => parseConfig({ taskQueueMaxPriority: 10, taskDefaultQueueType: 'quorum' }, 't')).toThrow(
      'taskQueueMaxPriority: taskQueueMaxPriority (x-max-priority) cannot be used with taskDefaultQueueType: "quorum"',
    );
  });

  it.each([
    [{ taskQueueMaxPriority: 0 }, 'taskQueueMaxPriority: taskQueueMaxPriority must be a whole number from 1 to 255'],
    [{ taskQueueMaxPriority: 2.5 }, 'taskQueueMaxPriority: taskQueueMaxPriority must be a whole number from 1 to 255'],
    [{ taskDefaultQueueType: 'stream' }, 'taskDefaultQueueType: taskDefaultQueueType must be one of classic, quorum'],
  ])('refuses %j', (config, problem) => {
    let error: unknown;
    try {
      parseConfig(config, 't');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => `${p.path}: ${p.message}`)).toEqual([problem]);
  });
});

describe('reconnect backoff', () => {
  it('doubles from 100 ms up to a 5 s base, each delay jittered by ±20 % so that replicas do not reconnect in step', () => {
    expect([0, 1, 2, 5, 6, 30].map((attempt) => reconnectDelayMs(attempt, 0.5))).toEqual([100, 200, 400, 3200, 5000, 5000]);
    expect([reconnectDelayMs(6, 0), reconnectDelayMs(6, 0.999999)]).toEqual([4000, 6000]);
  });
});
