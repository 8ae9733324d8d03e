/**
 * Who tsbeat signs its SQS requests as, and for which region, checked at the SQS server: the local
 * server (npm's local-aws-sqs behind test/support/sqs-server-main.mjs) checks no signature, so its
 * wrapper prints each request's SigV4 access key id, region and session token, and the tests hold
 * them to what the credentials' source handed out.
 *
 * - kombu's `sts_role_arn` (kombu/transport/SQS.py `generate_sts_session_token`): AssumeRole with
 *   RoleSessionName "Celery" and DurationSeconds `sts_token_timeout`, signed with the default
 *   credential chain (not the URL's or the queue's keys); the predefined queues' requests then
 *   signed with the role's credentials, assumed again before they expire. No local STS is
 *   packaged: test/support/sts-double.ts is a clearly marked stand-in that speaks STS's AssumeRole
 *   wire format and records what it is asked.
 * - The region from the shared profile (AWS_PROFILE's `region` in AWS_CONFIG_FILE) when the
 *   transport options name none, as boto3's session gives it to kombu; us-east-1 without one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import { createLogger } from '../../src/base/log.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import type { TransportOptionsInput } from '../../src/config/options-schema.js';
import { SqsTransport } from '../../src/sqs/transport.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { spawnCli } from '../support/cli.js';
import { ENV, config, entry } from '../support/messages.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';
import { LocalSqs } from '../support/sqs-server.js';
import { StsStandIn } from '../support/sts-double.js';

const ROLE = 'arn:aws:iam::123456789012:role/celery-publisher';
const AWS_VARIABLES = [
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_STS',
];

describe('SQS credentials and region', () => {
  const sts = new StsStandIn([305_000, 3_600_000]);
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const saved = new Map(AWS_VARIABLES.map((name) => [name, process.env[name]]));
  const home = mkdtempSync(join(tmpdir(), 'tsbeat-aws-'));
  let stsUrl: string;
  let sqs: LocalSqs;
  let redis: PrivateRedis | undefined;

  /** The process's AWS environment for one test: nothing of the machine's own. */
  function awsEnv(vars: Record<string, string>): void {
    for (const name of AWS_VARIABLES) delete process.env[name];
    Object.assign(
      process.env,
      { AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'), AWS_CONFIG_FILE: join(home, 'no-config') },
      vars,
    );
  }

  beforeAll(async () => {
    stsUrl = await sts.start();
    sqs = new LocalSqs(await freePort(), ['celery', 'other'], { SQS_SERVER_LOG_AUTH: '1' });
    await sqs.start();
    writeFileSync(join(home, 'config'), '[default]\nregion = ap-south-1\n\n[profile publisher]\nregion = eu-west-3\n');
  });

  afterAll(async () => {
    await fleet.killAll();
    await sqs?.stop();
    await sts.stop();
    await redis?.stop();
    dir.remove();
    rmSync(home, { recursive: true, force: true });
    for (const [name, value] of saved)
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  });

  const run = (name: string, i: number, options: Record<string, unknown> = {}) =>
    renderTaskMessage(compileMessageTemplate(entry({ name, task: 'tsbeat_test.record', args: [i], options }), config(), ENV), {
      taskId: slotTaskId('sqs-credentials', name, i),
      slotMs: i,
      nowMs: Date.now(),
    });

  function transport(transportOptions: TransportOptionsInput): SqsTransport {
    return new SqsTransport({
      url: `sqs://url-key:url-secret@127.0.0.1:${sqs.port}`,
      transportOptions,
      logger: createLogger({ level: 'silent' }),
    });
  }

  /**
   * The signers of the next `calls` requests of `action` after `mark`: the server prints them as it
   * takes each request, and its output may reach this process after the reply does.
   */
  async function signers(mark: number, calls: number, action = 'SendMessageBatch') {
    const seen = () =>
      sqs
        .auths()
        .slice(mark)
        .filter((a) => a.action === action);
    await waitUntil(`${calls} ${action} call(s) at the SQS server`, () => (seen().length >= calls ? true : undefined), 10_000);
    return seen();
  }

  /** Sends `count` messages (one SendMessageBatch per 10) and returns the signers of those calls. */
  async function sendAndSeeSigners(t: SqsTransport, count: number) {
    const mark = sqs.auths().length;
    const outcome = await t.send(await t.plan(Array.from({ length: count }, (_, i) => run(`e${i}`, i + 1))));
    expect(outcome.map((r) => (r.status === 'failed' ? r.error.message : r.status))).toEqual(Array(count).fill('confirmed'));
    return signers(mark, Math.ceil(count / 10));
  }

  it("assumes sts_role_arn as kombu does (session Celery, sts_token_timeout, the default chain's keys) and signs the predefined queues' sends with the role, again before it expires", async () => {
    awsEnv({ AWS_ENDPOINT_URL_STS: stsUrl, AWS_ACCESS_KEY_ID: 'AKIACHAINKEY', AWS_SECRET_ACCESS_KEY: 'chain-secret' });
    const t = transport({
      region: 'eu-west-1',
      stsRoleArn: ROLE,
      stsTokenTimeout: 1800,
      // Its own keys are not used with a role, as in kombu.
      predefinedQueues: { celery: { url: sqs.queueUrl('celery'), accessKeyId: 'AKIAQUEUEKEY', secretAccessKey: 'queue-secret' } },
    });
    try {
      // 20 messages: two SendMessageBatch calls in flight, one AssumeRole between them.
      const first = await sendAndSeeSigners(t, 20);
      expect(sts.calls).toHaveLength(1);
      expect(sts.calls[0]).toMatchObject({
        action: 'AssumeRole',
        version: '2011-06-15',
        roleArn: ROLE,
        roleSessionName: 'Celery',
        durationSeconds: '1800',
        signedBy: 'AKIACHAINKEY',
      });
      const one = sts.calls[0]?.issued;
      expect(first).toEqual([
        { action: 'SendMessageBatch', accessKeyId: one?.accessKeyId, region: 'eu-west-1', token: one?.sessionToken },
        { action: 'SendMessageBatch', accessKeyId: one?.accessKeyId, region: 'eu-west-1', token: one?.sessionToken },
      ]);

      // The stand-in gave the first credentials 5 min 5 s: tsbeat assumes the role again once
      // fewer than 5 minutes remain (the AWS SDK's own window), 5 s from the answer (5 s, not less,
      // so that a slow machine does not reach it before the two first batches are signed).
      const refreshAt = Date.parse(one?.expiration ?? '') - 300_000;
      await waitUntil('the refresh instant', () => (Date.now() > refreshAt ? true : undefined), 10_000);
      const second = await sendAndSeeSigners(t, 1);
      expect(sts.calls).toHaveLength(2);
      const two = sts.calls[1]?.issued;
      expect(second).toEqual([
        { action: 'SendMessageBatch', accessKeyId: two?.accessKeyId, region: 'eu-west-1', token: two?.sessionToken },
      ]);

      // The second's hour is kept.
      const third = await sendAndSeeSigners(t, 1);
      expect(sts.calls).toHaveLength(2);
      expect(third[0]?.accessKeyId).toBe(two?.accessKeyId);
    } finally {
      await t.close();
    }
  });

  it("a refused AssumeRole fails the send with the role and STS's reason named, and the next send asks STS again", async () => {
    awsEnv({ AWS_ENDPOINT_URL_STS: stsUrl, AWS_ACCESS_KEY_ID: 'AKIACHAINKEY', AWS_SECRET_ACCESS_KEY: 'chain-secret' });
    const t = transport({ region: 'eu-west-1', stsRoleArn: ROLE, predefinedQueues: { celery: { url: sqs.queueUrl('celery') } } });
    try {
      sts.refuse = 1;
      const outcome = await t.send(await t.plan([run('e0', 1)]));
      expect(outcome[0]?.status).toBe('failed');
      expect(outcome[0]?.status === 'failed' ? outcome[0].error.message : '').toMatch(
        new RegExp(`assuming the role ${ROLE} \\(sts_role_arn\\) failed: the stand-in refuses this call`),
      );
      const before = sts.calls.length;
      const sends = await sendAndSeeSigners(t, 1);
      expect(sts.calls.length).toBe(before + 1);
      expect(sends[0]?.accessKeyId).toBe(sts.calls.at(-1)?.issued.accessKeyId);
    } finally {
      await t.close();
    }
  });

  it("takes the region from the shared profile when the transport options name none, else us-east-1; a queue's own region wins", async () => {
    awsEnv({ AWS_CONFIG_FILE: join(home, 'config'), AWS_PROFILE: 'publisher' });
    const t = transport({
      predefinedQueues: { celery: { url: sqs.queueUrl('celery') }, other: { url: sqs.queueUrl('other'), region: 'sa-east-1' } },
    });
    try {
      expect(await t.region()).toBe('eu-west-3');
      const mark = sqs.auths().length;
      const plan = await t.plan([run('e0', 1), run('e1', 2, { queue: 'other' })]);
      expect((await t.send(plan)).map((r) => r.status)).toEqual(['confirmed', 'confirmed']);
      const regions = (await signers(mark, 2)).map((a) => `${a.accessKeyId} ${a.region}`).sort();
      expect(regions).toEqual(['url-key eu-west-3', 'url-key sa-east-1']);
    } finally {
      await t.close();
    }
    awsEnv({});
    const none = transport({});
    expect(await none.region()).toBe('us-east-1');
    await none.close();
    awsEnv({ AWS_CONFIG_FILE: join(home, 'config'), AWS_PROFILE: 'publisher', AWS_DEFAULT_REGION: 'ca-central-1' });
    const named = transport({});
    expect(await named.region()).toBe('ca-central-1');
    await named.close();
  });

  it("beat run: a Celery config with sts_role_arn and no region checks clean, assumes the role and signs every send with it, in the default profile's region", async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    const cfg = dir.write('sts.json', {
      name: 'sqs-sts',
      broker: {
        url: `sqs://url-key:url-secret@127.0.0.1:${sqs.port}`,
        transport_options: { sts_role_arn: ROLE, predefined_queues: { celery: { url: sqs.queueUrl('celery') } } },
      },
      state: { url: redis.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: { tick: { task: 'tsbeat_test.record', schedule: 1 } },
    });
    const env = {
      AWS_ENDPOINT_URL_STS: stsUrl,
      AWS_ACCESS_KEY_ID: 'AKIACHAINKEY',
      AWS_SECRET_ACCESS_KEY: 'chain-secret',
      AWS_CONFIG_FILE: join(home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
    };
    const check = spawnCli(['check', '--config', cfg]);
    expect(check.code, check.stderr).toBe(0);
    const before = sts.calls.length;
    const mark = sqs.auths().length;
    const beat = fleet.spawn({ config: cfg, env });
    await waitUntil(
      'two runs sent',
      () => (beat.events('beat.fire').length >= 2 ? true : undefined),
      20_000,
      () => beat.tail(),
    );
    const assumed = await beat.waitForEvent('beat.broker.credentials', 5000);
    beat.signal('SIGTERM');
    expect(await beat.waitForExit(15_000), beat.tail()).toEqual({ code: 0, signal: null });
    // The stand-in's later credentials last an hour: one AssumeRole for the whole run.
    const calls = sts.calls.slice(before);
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls[0]).toMatchObject({ roleArn: ROLE, roleSessionName: 'Celery', durationSeconds: '900', signedBy: 'AKIACHAINKEY' });
    expect(assumed).toMatchObject({ roleArn: ROLE, accessKeyId: calls[0]?.issued.accessKeyId });
    const issued = new Set(calls.map((c) => c.issued.accessKeyId));
    const sends = await signers(mark, 2);
    for (const send of sends) {
      expect(issued.has(send.accessKeyId), send.accessKeyId).toBe(true);
      expect(send.region).toBe('ap-south-1');
    }
  });
});
