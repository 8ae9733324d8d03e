import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/base/log.js';
import { isSecretParam, maskAlertUrl, maskTarget, maskUrl, redactText } from '../../src/base/redact.js';
import { entryDiff } from '../../src/control/audit-events.js';
import { parseRedisUrl } from '../../src/config/redis-url.js';
import { parseConfig } from '../../src/config/load.js';

describe('maskUrl', () => {
  it('masks user info, keeping the user name', () => {
    expect(maskUrl('https://alice:hunter2@hooks.example/x')).toBe('https://alice:***@hooks.example/x');
    expect(maskUrl('https://tok3n@hooks.example/x')).toBe('https://***@hooks.example/x');
    expect(maskUrl('redis://:pa/ss@word@host:6379/0')).toBe('redis://:***@host:6379/0');
  });

  it('masks the value of every query parameter, whatever its name, keeping the names', () => {
    expect(maskUrl('redis://h:6379/0?password=s3cret&ssl_keyfile=/k.pem')).toBe('redis://h:6379/0?password=***&ssl_keyfile=***');
    expect(maskUrl('https://h/x?a=1&token=t0k&X-Api-Key=k&access_token=z#frag')).toBe(
      'https://h/x?a=***&token=***&X-Api-Key=***&access_token=***#frag',
    );
    expect(maskUrl('https://h/x?pass%77ord=p')).toBe('https://h/x?pass%77ord=***');
    expect(maskUrl('redis://h/0?bogus=zz-secret&passwrod=zz-secret&flag')).toBe('redis://h/0?bogus=***&passwrod=***&flag');
  });

  it('masks each URL of a failover list', () => {
    expect(maskUrl('sentinel://:a@s1;sentinel://:b@s2?password=c')).toBe('sentinel://:***@s1;sentinel://:***@s2?password=***');
  });

  it('leaves a URL without user info or query values as it is', () => {
    expect(maskUrl('redis://host/0')).toBe('redis://host/0');
    expect(maskUrl('https://h/p?flag')).toBe('https://h/p?flag');
  });
});

describe('maskAlertUrl', () => {
  it("keeps a receiver's scheme and host and masks all that follows, where Slack, Discord and healthchecks.io keep their secret", () => {
    expect(maskAlertUrl('https://hooks.slack.com/services/T0/B0/zz-secret')).toBe('https://hooks.slack.com/***');
    expect(maskAlertUrl('https://discord.com/api/webhooks/1/zz-token')).toBe('https://discord.com/***');
    expect(maskAlertUrl('https://hc-ping.com/zz-uuid/fail?rid=1')).toBe('https://hc-ping.com/***');
    expect(maskAlertUrl('http://127.0.0.1:8080/?token=zz')).toBe('http://127.0.0.1:8080/***');
    expect(maskAlertUrl('https://ops:zz-pw@hooks.example/')).toBe('https://hooks.example');
    expect(maskAlertUrl('not a url zz')).toBe('***');
  });
});

describe('isSecretParam', () => {
  it('knows the usual names and leaves file names alone', () => {
    for (const name of ['password', 'PASS', 'pwd', 'token', 'secret', 'key', 'api_key', 'client_secret', 'private_key', 'x-api-key', 'sig'])
      expect(isSecretParam(name), name).toBe(true);
    for (const name of ['ssl_keyfile', 'ssl_certfile', 'virtual_host', 'queue', 'monkey']) expect(isSecretParam(name), name).toBe(false);
  });
});

describe('redactText', () => {
  it('masks every URL in a message and the secret parameters of a request target', () => {
    const text =
      'Request cannot be constructed from a URL that includes credentials: https://u:pw1@h/x and "redis://:pw2@r:1/0?password=pw3"; GET /api/entries?token=pw4&limit=5';
    const out = redactText(text);
    for (const secret of ['pw1', 'pw2', 'pw3', 'pw4']) expect(out).not.toContain(secret);
    expect(out).toContain('https://u:***@h/x');
    expect(out).toContain('limit=5');
  });

  it('masks a password that holds brackets or parentheses whole', () => {
    const out = redactText('cannot connect (redis://:pa(s)s[1]{2}@r:1/0)');
    expect(out).not.toMatch(/pa\(|s\[1\]/);
    expect(out).toContain('redis://:***@r:1/0');
  });

  it("masks every query value of a URL in text, but only the password-like ones of a query that is no URL's (a request target, tsbeat's own hint)", () => {
    expect(redactText('broker URL rediss://h/0?bogus=zz-secret: unknown query option "bogus"')).toBe(
      'broker URL rediss://h/0?bogus=***: unknown query option "bogus"',
    );
    expect(redactText('add ?ssl_cert_reqs=required&ssl_ca_certs=/path/to/ca.pem to verify the server')).toBe(
      'add ?ssl_cert_reqs=required&ssl_ca_certs=/path/to/ca.pem to verify the server',
    );
    expect(redactText('GET /api/entries?limit=5&token=zz')).toBe('GET /api/entries?limit=5&token=***');
  });

  it('leaves text without URLs alone', () => {
    expect(redactText('alice@build-7 paused nightly')).toBe('alice@build-7 paused nightly');
    expect(redactText('no secrets here')).toBe('no secrets here');
  });

  it('maskTarget masks the query of a request target only', () => {
    expect(maskTarget('/api/entries?token=abc&limit=1')).toBe('/api/entries?token=***&limit=1');
    expect(maskTarget('/healthz')).toBe('/healthz');
    expect(maskTarget(undefined)).toBeUndefined();
    // A sign-in's callback: the provider's authorization code and the sign-in's state.
    expect(maskTarget('/ui/callback?code=abc&state=xyz&iss=https%3A%2F%2Fidp')).toBe(
      '/ui/callback?code=***&state=***&iss=https%3A%2F%2Fidp',
    );
  });
});

describe('where secrets used to leak', () => {
  it('an audit diff masks a webhook token', () => {
    const changes = entryDiff(undefined, { task: 't', alerts: { webhook: 'https://h/x?token=zz-secret-1' } });
    expect(JSON.stringify(changes)).not.toContain('zz-secret-1');
    expect(changes).toContainEqual({ path: 'alerts.webhook', after: '"https://h/***"' });
  });

  it("an audit diff masks the secret in a webhook's or ping's path, as the URL itself or inside the alerts object", () => {
    const alerts = {
      webhook: 'https://hooks.slack.com/services/T0/B0/zz-secret-8',
      ping: 'https://hc-ping.com/zz-secret-9',
      on: ['failed'],
    };
    const created = entryDiff(undefined, { task: 't', alerts });
    expect(created).toContainEqual({ path: 'alerts.webhook', after: '"https://hooks.slack.com/***"' });
    expect(created).toContainEqual({ path: 'alerts.ping', after: '"https://hc-ping.com/***"' });
    const whole = entryDiff({ task: 't', alerts: 'x' }, { task: 't', alerts });
    expect(whole).toEqual([{ path: 'alerts', before: '"x"', after: expect.stringContaining('"webhook":"https://hooks.slack.com/***"') }]);
    expect(JSON.stringify([created, whole])).not.toContain('zz-secret');
    expect(entryDiff(undefined, { kwargs: { ping: 'https://h/x' } })).toEqual([{ path: 'kwargs.ping', after: '"https://h/x"' }]);
  });

  it('a refused broker URL does not echo the value of a parameter it does not know', () => {
    expect(() => parseRedisUrl('redis://127.0.0.1:6379/0?bogus=zz-secret-7')).toThrow(
      'broker URL redis://127.0.0.1:6379/0?bogus=***: unknown query option "bogus"',
    );
  });

  it('a refused broker URL does not echo its ?password=', () => {
    expect(() => parseRedisUrl('redis://127.0.0.1:6379/0?password=zz-secret-2')).toThrow(/password=\*\*\*/);
    try {
      parseRedisUrl('redis://127.0.0.1:6379/0?password=zz-secret-2');
    } catch (error) {
      expect(String(error)).not.toContain('zz-secret-2');
    }
  });

  it('a webhook with credentials is refused, naming the fix, without echoing them', () => {
    let text = '';
    try {
      parseConfig({ alerts: { webhook: 'https://bob:zz-secret-3@hooks.example/x' } }, 'test');
    } catch (error) {
      text = `${String(error)} ${JSON.stringify(error)}`;
    }
    expect(text).not.toContain('zz-secret-3');
    expect(text).toMatch(/alerts\.webhook .*holds credentials .*token query parameter/);
  });

  it('every log line has its messages and errors masked', () => {
    let out = '';
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger({ destination });
    logger.warn(
      { event: 'x', err: new Error('fetch https://u:zz-secret-4@h/ failed') },
      'posting to https://u:zz-secret-5@h/?token=zz-secret-6',
    );
    logger.flush();
    expect(out).toContain('posting to');
    for (const secret of ['zz-secret-4', 'zz-secret-5', 'zz-secret-6']) expect(out).not.toContain(secret);
  });
});
