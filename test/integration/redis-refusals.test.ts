/**
 * A Redis that refuses tsbeat must be named with its fix, not hidden: a wrong or missing password
 * ("cannot reach Redis within 5 s" before), an ACL user without a command (a standby logging only
 * "unable to achieve a quorum", and an internal bug in `status`), a Redis at maxmemory with
 * noeviction and a read-only replica ("EXECABORT Transaction discarded" in `pause`).
 * Redis: private redis-servers (a password and ACL users; maxmemory 1 with noeviction; a replica).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/base/errors.js';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, errText } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';

const PASSWORD = 'right-pw';
/** ACL users, each lacking one command tsbeat needs (the password is the same for all). */
const USERS = { noeval: ['-eval', '-evalsha'], noread: ['-hgetall'], nosadd: ['-sadd'] } as const;

describe('Redis refusals are named with their fix', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let secured: PrivateRedis;
  let full: PrivateRedis;
  let replica: PrivateRedis;
  let primary: PrivateRedis;

  beforeAll(async () => {
    const users = Object.entries(USERS).flatMap(([user, minus]) => ['--user', user, 'on', `>${PASSWORD}`, '~*', '&*', '+@all', ...minus]);
    secured = await startPrivateRedis({ password: PASSWORD, args: users });
    full = await startPrivateRedis({ args: ['--maxmemory', '1', '--maxmemory-policy', 'noeviction'] });
    primary = await startPrivateRedis();
    replica = await startPrivateRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  });

  afterEach(async () => {
    await fleet.killAll();
    killCliChildren();
  });

  afterAll(async () => {
    // A hook registered inside beforeAll never runs: every server is stopped here.
    await Promise.all([secured?.stop(), full?.stop(), replica?.stop(), primary?.stop()]);
    dir.remove();
  });

  function configFile(url: string): string {
    const name = uniqueName('refused');
    return dir.write(`${name}.json`, { name, broker: { url }, lock: FAST_LOCK, beatSchedule: { tick: { task: 't.tick', schedule: 1 } } });
  }

  const userUrl = (user: string): string => `redis://${user}:${PASSWORD}@127.0.0.1:${secured.port}/0`;

  it('a wrong password: status exits 2 saying the server refused it and how to fix it, without the password', async () => {
    const r = await runBeatCli(['status', '--config', configFile(`redis://:wrong-pw@127.0.0.1:${secured.port}/0`)]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`Redis at redis://:***@127.0.0.1:${secured.port}/0: the server refused the password (WRONGPASS`);
    expect(r.stderr).toContain('Correct the credentials in the URL');
    expect(r.stderr).not.toContain('wrong-pw');
    expect(r.stderr).not.toContain('cannot reach');
  });

  it('a missing password: pause exits 2 saying the server requires one', async () => {
    const r = await runBeatCli(['pause', 'tick', '--config', configFile(`redis://127.0.0.1:${secured.port}/0`)]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('the server requires a password and none was accepted (NOAUTH');
    // The hint's placeholder password is masked like any other: the shape still shows where it goes.
    expect(r.stderr).toContain('redis://:***@host:port/db');
  });

  it('a wrong password: beat run exits 2 and logs beat.redis.refused instead of retrying quietly', async () => {
    const beat = fleet.spawn({ config: configFile(`redis://:wrong-pw@127.0.0.1:${secured.port}/0`) });
    const exit = await beat.waitForExit(15_000);
    expect(exit.code, beat.tail()).toBe(2);
    expect(beat.events(EVENTS.redisRefused)[0]).toMatchObject({ code: ErrorCode.RedisAuth, fatal: true });
    expect(beat.text.join('\n')).toContain('the server refused the password (WRONGPASS');
    expect(beat.allOutput()).not.toContain('wrong-pw');
  });

  it('an ACL user without EVALSHA: beat run names NOPERM, the command and the grant instead of "unable to achieve a quorum"', async () => {
    const beat = fleet.spawn({ config: configFile(userUrl('noeval')) });
    const refused = await beat.waitForEvent(EVENTS.redisRefused, 15_000);
    expect(refused).toMatchObject({ code: ErrorCode.RedisNoPerm, role: 'lock' });
    expect(errText(refused)).toMatch(/the ACL user "noeval" may not use the EVAL(SHA)? command .*ACL SETUSER noeval \+eval(sha)?/);
    expect(beat.allOutput()).not.toContain('unable to achieve a quorum');
  });

  it('an ACL user without HGETALL: status exits 2 naming NOPERM and the grant, not an internal bug', async () => {
    const r = await runBeatCli(['status', '--config', configFile(userUrl('noread'))]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('the ACL user "noread" may not use the HGETALL command');
    expect(r.stderr).toContain('ACL SETUSER noread +hgetall');
    expect(r.stderr).not.toContain('unexpected error');
  });

  it('an ACL user without SADD: pause exits 2 naming NOPERM, not "EXECABORT Transaction discarded"', async () => {
    const r = await runBeatCli(['pause', 'tick', '--config', configFile(userUrl('nosadd'))]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('the ACL user "nosadd" may not use the SADD command');
    expect(r.stderr).not.toContain('EXECABORT');
  });

  it('a Redis at maxmemory with noeviction: beat run names OOM and its fix; pause exits 1 saying so', async () => {
    const beat = fleet.spawn({ config: configFile(full.url(0)) });
    const refused = await beat.waitForEvent(EVENTS.redisRefused, 15_000);
    expect(refused).toMatchObject({ code: ErrorCode.RedisOom, role: 'lock' });
    expect(errText(refused)).toContain('is out of memory and refuses writes');
    const r = await runBeatCli(['pause', 'tick', '--config', configFile(full.url(0))]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`Redis at ${full.url(0)} is out of memory and refuses writes (OOM`);
    expect(r.stderr).toContain('raise the server');
    expect(r.stderr).not.toContain('EXECABORT');
  });

  it('a read-only replica: beat run names READONLY and says to point at the primary; resume exits 2 saying so', async () => {
    const beat = fleet.spawn({ config: configFile(replica.url(0)) });
    const refused = await beat.waitForEvent(EVENTS.redisRefused, 15_000);
    expect(refused).toMatchObject({ code: ErrorCode.RedisReadOnly, role: 'lock' });
    const r = await runBeatCli(['resume', 'tick', '--config', configFile(replica.url(0))]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`Redis at ${replica.url(0)} is a read-only replica (READONLY`);
    expect(r.stderr).toContain('Point the URL at the primary');
  });
});
