/**
 * The SQS transport's pure half and its config: queue names against kombu's own `entity_name`
 * (Debian's python3-kombu is the oracle), the message body, FIFO ids, batching, the URL, and what
 * `beat check` refuses.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileMessageTemplate, renderTaskMessage, runMessages } from '../../src/celery/message.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { resolveEntry } from '../../src/config/resolve.js';
import type { TaskMessage } from '../../src/celery/message.js';
import type { OptionsInput, TaskRoutesInput } from '../../src/config/options-schema.js';
import { parseConfig } from '../../src/config/load.js';
import { connectionProblems } from '../../src/config/connection-checks.js';
import { parseSqsUrl, sqsEndpoint } from '../../src/config/sqs-url.js';
import { SQS_BATCH_BYTES, canonicalQueueName, defaultGroupId, planSqsPublish, sqsBatches, sqsEntityName } from '../../src/sqs/message.js';
import type { SqsDelivery } from '../../src/sqs/message.js';
import { sqsEntryProblems } from '../../src/publish/sqs-entry-checks.js';
import { runCli } from '../support/cli.js';
import { problemsOf } from '../support/config-problems.js';
import { ENV, config, entry } from '../support/messages.js';

const NAMES = [
  'celery',
  'my.queue',
  'a.b.fifo',
  'x:y/z',
  "we!rd#$%&'()*+,/:;<=>?@[\\]^`{|}~",
  'keep-_dash',
  'tail.fifo.fifo',
  'fifo',
  'a b',
  'ü.x',
];

const kombu = spawnSync(
  '/usr/bin/python3',
  [
    '-c',
    'import json,sys\nfrom kombu.transport.SQS import Channel\nprint(json.dumps([Channel.entity_name(None, n) for n in json.loads(sys.argv[1])]))',
    JSON.stringify(NAMES),
  ],
  { encoding: 'utf8', timeout: 30_000 },
);
// In CI the oracle must be there (.ci/run installs python3-boto3): a missing one fails, not skips.
const oracle = kombu.status === 0 || process.env['CI'] ? it : it.skip;

function message(options: OptionsInput = {}, routes?: TaskRoutesInput, name = 'sqs-entry'): TaskMessage {
  const template = compileMessageTemplate(entry({ name, options }), config({ taskRoutes: routes }), ENV);
  return renderTaskMessage(template, {
    taskId: '0d5a0f8e-7c3b-5b1e-9d55-2b9f1c0a9e11',
    slotMs: 1_800_000_000_000,
    nowMs: 1_800_000_000_000,
  });
}

const settings = { queueNamePrefix: '', predefined: undefined, base64: true };

describe('SQS queue names', () => {
  oracle("map as kombu's Channel.entity_name maps them", () => {
    expect(kombu.status, kombu.stderr).toBe(0);
    expect(NAMES.map(sqsEntityName)).toEqual(JSON.parse(kombu.stdout) as string[]);
  });

  it('put the prefix before the mapping, as canonical_queue_name does', () => {
    expect(canonicalQueueName('reports.daily', 'prod.')).toBe('prod-reports-daily');
    expect(canonicalQueueName('jobs.fifo', 'prod.')).toBe('prod-jobs.fifo');
  });
});

describe('SQS messages', () => {
  it("carry kombu's envelope, base64-encoded, with the queue name Celery knows as routing key", () => {
    const plan = planSqsPublish([message({ queue: 'reports.daily' })], { ...settings, queueNamePrefix: 'p-' }, () => 'tag-1');
    const m = plan.messages[0] as SqsDelivery;
    expect(m.sqsQueue).toBe('p-reports-daily');
    expect(m.problem).toBeUndefined();
    const envelope = JSON.parse(Buffer.from(m.body, 'base64').toString('utf8')) as {
      body: string;
      properties: { delivery_info: unknown; delivery_tag: string; correlation_id: string; body_encoding: string };
      headers: { id: string; task: string };
    };
    expect(envelope.properties.delivery_info).toEqual({ exchange: '', routing_key: 'reports.daily' });
    expect(envelope.properties.delivery_tag).toBe('tag-1');
    expect(envelope.properties.body_encoding).toBe('base64');
    expect(envelope.headers.id).toBe('0d5a0f8e-7c3b-5b1e-9d55-2b9f1c0a9e11');
    expect(JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8'))).toEqual([
      [2, 3],
      {},
      { callbacks: null, errbacks: null, chain: null, chord: null },
    ]);
    expect(m.bytes).toBe(m.body.length);
    expect(m.groupId).toBeUndefined();
  });

  it('keep the envelope as JSON text with sqs_base64_encoding off', () => {
    const m = planSqsPublish([message()], { ...settings, base64: false }, () => 't').messages[0] as SqsDelivery;
    expect((JSON.parse(m.body) as { headers: { task: string } }).headers.task).toBe('proj.add');
  });

  it('on FIFO queues deduplicate by task id, grouped by entry unless MessageGroupId says otherwise', () => {
    const [own, named] = planSqsPublish(
      [message({ queue: 'jobs.fifo' }), message({ queue: 'jobs.fifo', MessageGroupId: 'tenant-7' } as OptionsInput)],
      settings,
      () => 't',
    ).messages;
    expect(own).toMatchObject({ sqsQueue: 'jobs.fifo', groupId: 'sqs-entry', deduplicationId: '0d5a0f8e-7c3b-5b1e-9d55-2b9f1c0a9e11' });
    expect(named).toMatchObject({ groupId: 'tenant-7' });
    expect(defaultGroupId('nightly report (EU)')).toMatch(/^tsbeat-[0-9a-f]{40}$/);
  });

  it("on FIFO queues deduplicate a group run's messages each by its own id (one dedup id for all would drop all but the first)", () => {
    const parsed = parseEntryDefinition({
      schedule: 60,
      group: [1, 2, 3].map((i) => ({ task: 'proj.part', args: [i] })),
      options: { queue: 'jobs.fifo' },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const run = renderTaskMessage(
      compileMessageTemplate(resolveEntry('fifo-group', parsed.entry, { zone: 'UTC', deployment: 'default' }), config(), ENV),
      {
        taskId: '0d5a0f8e-7c3b-5b1e-9d55-2b9f1c0a9e11',
        slotMs: 1_800_000_000_000,
        nowMs: 1_800_000_000_000,
      },
    );
    const planned = planSqsPublish(runMessages(run), settings, () => 't').messages;
    expect(planned.map((m) => m.deduplicationId)).toEqual(runMessages(run).map((m) => (JSON.parse(m.headersJson) as { id: string }).id));
    expect(new Set(planned.map((m) => m.deduplicationId)).size).toBe(3);
  });

  it('name the problem of a queue outside predefined_queues, and of a route through a named exchange', () => {
    const [outside, routed, ownExchange] = planSqsPublish(
      [
        message({ queue: 'other' }),
        message({ exchange: 'events', routingKey: 'x' }),
        message({ queue: 'q1', exchange: 'q1', routingKey: 'q1' }),
      ],
      { ...settings, predefined: new Set(['q1']) },
      () => 't',
    ).messages;
    expect(outside?.problem).toMatch(/"other" is not among broker\.transportOptions\.predefinedQueues/);
    expect(routed?.problem).toMatch(/exchange "events" \(direct\) with routing key "x".*route it by queue name/);
    expect(ownExchange?.problem).toBeUndefined();
    expect(ownExchange?.sqsQueue).toBe('q1');
  });

  it('go in batches of at most 10 and 256 KiB, a message over the limit alone', () => {
    const small = (bytes: number): SqsDelivery => ({ id: '', entry: '', queue: 'q', sqsQueue: 'q', body: '', bytes });
    const many = Array.from({ length: 23 }, () => small(100));
    expect(
      sqsBatches(
        many,
        many.map((_, i) => i),
      ).map((b) => b.length),
    ).toEqual([10, 10, 3]);
    const mixed = [small(200_000), small(70_000), small(SQS_BATCH_BYTES + 1), small(10)];
    expect(sqsBatches(mixed, [0, 1, 2, 3])).toEqual([[0], [1], [2], [3]]);
  });
});

describe('sqs:// URLs', () => {
  it('read credentials, host and port as kombu does', () => {
    const spec = parseSqsUrl('sqs://AKIDEXAMPLE:wJal%2Fr%2BXUt@127.0.0.1:9324');
    expect(spec.credentials).toEqual({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJal/r+XUt' });
    expect(spec.display).not.toContain('wJal');
    expect(sqsEndpoint(spec, undefined)).toBe('http://127.0.0.1:9324');
    expect(sqsEndpoint(spec, true)).toBe('https://127.0.0.1:9324');
    const aws = parseSqsUrl('sqs://');
    expect(aws.credentials).toBeUndefined();
    expect(sqsEndpoint(aws, undefined)).toBeUndefined();
  });

  it('refuse what cannot be meant', () => {
    expect(() => parseSqsUrl('sqs://KEY@host')).toThrow(/no secret access key/);
    expect(() => parseSqsUrl('sqs://host:99999')).toThrow(/port must be a number/);
    expect(() => parseSqsUrl('sqs://host?region=eu-west-1')).toThrow(/takes no query options/);
  });
});

describe('an SQS broker in the config', () => {
  const base = { broker: { url: 'sqs://' }, state: { url: 'redis://127.0.0.1:6379/0' } };

  it("takes a Celery app's broker_transport_options as they are", () => {
    const resolved = parseConfig(
      {
        ...base,
        broker: {
          url: 'sqs://',
          transport_options: {
            region: 'eu-west-1',
            queue_name_prefix: 'prod-',
            visibility_timeout: 3600,
            wait_time_seconds: 20,
            polling_interval: 0.3,
            is_secure: true,
            'sqs-creation-attributes': { KmsMasterKeyId: 'alias/aws/sqs' },
            'client-config': { connect_timeout: 5, retries: { max_attempts: 2, mode: 'standard' }, max_pool_connections: 20 },
            sts_role_arn: 'arn:aws:iam::123456789012:role/celery',
            sts_token_timeout: 3600,
            sts_token_buffer_time: 600,
            predefined_queues: {
              'jobs.fifo': { url: 'https://sqs.eu-west-1.amazonaws.com/1/jobs.fifo', access_key_id: 'a', secret_access_key: 'b' },
            },
          },
        },
      },
      'test.yaml',
    );
    expect(connectionProblems(resolved)).toEqual([]);
    expect(resolved.broker.transportOptions).toMatchObject({
      stsRoleArn: 'arn:aws:iam::123456789012:role/celery',
      stsTokenTimeout: 3600,
      stsTokenBufferTime: 600,
      clientConfig: { connect_timeout: 5, retries: { max_attempts: 2, mode: 'standard' }, max_pool_connections: 20 },
      queueNamePrefix: 'prod-',
      sqsCreationAttributes: { KmsMasterKeyId: 'alias/aws/sqs' },
    });
  });

  it('refuses what kombu would refuse, and what SQS cannot do', () => {
    expect(
      problemsOf({
        broker: {
          url: 'sqs://',
          transportOptions: {
            wait_time_seconds: 30,
            predefined_queues: {
              jobs: { url: 'https://sqs.eu-west-1.amazonaws.com/1/jobs.fifo' },
              'b.fifo': { url: 'https://sqs.eu-west-1.amazonaws.com/1/b' },
            },
            sts_role_arn: 'arn:aws:iam::123456789012:role/x',
          },
        },
        taskEvents: true,
      }),
    ).toEqual([
      'broker.transportOptions.waitTimeSeconds: wait_time_seconds must be a whole number of seconds from 0 to 20 (SQS long polling)',
    ]);
    const problems = problemsOf({
      broker: {
        url: 'sqs://',
        transportOptions: {
          predefined_queues: {
            jobs: { url: 'https://sqs.eu-west-1.amazonaws.com/1/jobs.fifo' },
            'b.fifo': { url: 'https://sqs.eu-west-1.amazonaws.com/1/b' },
          },
          sts_role_arn: 'arn:aws:iam::123456789012:role/x',
          sts_token_timeout: 900,
          sts_token_buffer_time: 900,
          'client-config': { proxies: { https: 'http://proxy:3128' }, user_agent: 'x', signature_version: 's3', connect_timeout: 5 },
        },
      },
      taskEvents: true,
    });
    expect(problems).toHaveLength(8);
    expect(problems.join('\n')).toMatch(/predefinedQueues\.jobs: .*name must end with \.fifo/);
    expect(problems.join('\n')).toMatch(/predefinedQueues\["b\.fifo"\]: .*not a FIFO queue's/);
    expect(problems.join('\n')).toMatch(
      /stsTokenBufferTime: sts_token_buffer_time \(900 s\) must be less than sts_token_timeout \(900 s\)/,
    );
    expect(problems.join('\n')).toMatch(/clientConfig\.proxies: tsbeat sends to SQS without a proxy/);
    expect(problems.join('\n')).toMatch(/clientConfig\.user_agent: .*user_agent_extra/);
    expect(problems.join('\n')).toMatch(/clientConfig\.signature_version: SQS takes Signature Version 4 only.*not "s3"/);
    expect(
      problemsOf({ ...base, broker: { url: 'sqs://', transportOptions: { sts_role_arn: 'arn:aws:iam::123456789012:role/x' } } }),
    ).toEqual([
      'broker.transportOptions.stsRoleArn: kombu uses sts_role_arn for predefined_queues only and ignores it otherwise: name the queues in predefined_queues, or remove sts_role_arn (a role for every queue comes through the AWS SDK credential chain: AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, or a profile with role_arn)',
    ]);
    expect(
      problemsOf({
        ...base,
        broker: {
          url: 'sqs://',
          transportOptions: { sts_role_arn: 'celery-role', sts_token_timeout: 600, 'client-config': { max_connections: 5 } },
        },
      }),
    ).toEqual([
      'broker.transportOptions.stsRoleArn: sts_role_arn must be a role ARN such as "arn:aws:iam::123456789012:role/celery"',
      "broker.transportOptions.stsTokenTimeout: sts_token_timeout must be a whole number of seconds from 900 to 43200 (AssumeRole's DurationSeconds)",
      `broker.transportOptions.clientConfig.max_connections: client-config: botocore's Config has no "max_connections" (kombu would fail on it); did you mean "max_pool_connections"?`,
    ]);
    expect(problems.join('\n')).toMatch(/state\.url: with an SQS broker the state and the lock live in Redis/);
    expect(problems.join('\n')).toMatch(/taskEvents: .*fanout/);
  });

  it("refuses entries whose runs kombu's SQS transport would not deliver: beat check exits 2 naming them", async () => {
    const value = {
      ...base,
      broker: {
        url: 'sqs://',
        transportOptions: { predefined_queues: { celery: { url: 'https://sqs.us-east-1.amazonaws.com/1/celery' } } },
      },
      taskRoutes: { 'proj.events': { exchange: 'events', routingKey: 'audit' } },
      beatSchedule: {
        fine: { task: 'proj.a', schedule: 60 },
        elsewhere: { task: 'proj.b', schedule: 60, options: { queue: 'reports.daily' } },
        exchanged: { task: 'proj.events', schedule: 60 },
      },
    };
    const problems = sqsEntryProblems(parseConfig(value, 'test.yaml'));
    expect(problems.map((p) => p.path)).toEqual(['beatSchedule.elsewhere', 'beatSchedule.exchanged']);
    expect(problems[0]?.message).toMatch(/"reports-daily" is not among broker\.transportOptions\.predefinedQueues/);
    expect(problems[1]?.message).toMatch(/exchange "events" \(direct\) with routing key "audit"/);
    const dir = mkdtempSync(join(tmpdir(), 'tsbeat-sqs-check-'));
    try {
      writeFileSync(join(dir, 'beat.config.json'), JSON.stringify(value));
      const check = await runCli(['check', '--config', join(dir, 'beat.config.json')]);
      expect(check.code).toBe(2);
      expect(check.stderr).toMatch(/beatSchedule\.elsewhere: with an SQS broker its runs would fail/);
      expect(check.stderr).toMatch(/beatSchedule\.exchanged: with an SQS broker its runs would fail/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
