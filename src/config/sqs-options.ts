/**
 * kombu 5.2's SQS transport options (`broker_transport_options` of a Celery app on SQS), as the
 * config accepts them, and the checks that refuse what kombu would not take. Every key is written
 * as kombu reads it (snake_case) or in camelCase; kombu's two hyphenated keys
 * (`sqs-creation-attributes`, `client-config`) keep their spelling too.
 */
import * as z from 'zod';
import { DEFAULTS } from '../base/defaults.js';
import { keyed } from './key-spelling.js';
import { sqsClientConfig, sqsClientConfigProblems } from './sqs-client-config.js';

/** SQS's rule for a FIFO message group id: 1-128 characters, ASCII letters, digits and punctuation. */
export const SQS_GROUP_ID = /^[!-~]{1,128}$/;

export const sqsMessageGroupId = z
  .string({ error: 'MessageGroupId must be a string' })
  .regex(SQS_GROUP_ID, { error: 'MessageGroupId must be 1-128 ASCII letters, digits or punctuation (no spaces), as SQS takes it' });

const predefinedQueue = keyed({
  /** The queue's URL (kombu: required). */
  url: z.url({ error: 'url must be the queue URL, such as "https://sqs.us-east-1.amazonaws.com/123456789012/celery"' }),
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
  region: z.string().min(1).optional(),
  /** Consumer-side (kombu's retry visibility back-off): accepted so the block copies over, unused by a publisher. */
  backoffPolicy: z.record(z.string(), z.number()).optional(),
  backoffTasks: z.array(z.string()).optional(),
});

/** The SQS keys of `broker.transportOptions` (a Redis or AMQP broker ignores them). */
export const sqsTransportOptions = {
  /** AWS region; default $AWS_REGION, $AWS_DEFAULT_REGION, then us-east-1 (kombu's default). */
  region: z.string({ error: 'region must be a string such as "eu-west-1"' }).min(1).optional(),
  /** Queue name → its URL (and optional credentials): kombu then uses no other queue. */
  predefinedQueues: z.record(z.string(), predefinedQueue, { error: 'predefined_queues must map queue names to { url: ... }' }).optional(),
  /** Prepended to every queue name before the SQS name mapping; workers must use the same. */
  queueNamePrefix: z.string({ error: 'queue_name_prefix must be a string' }).optional(),
  /** Consumer-side: long polling (SQS takes 0-20 s). Accepted so the block copies over. */
  waitTimeSeconds: z
    .number({ error: 'wait_time_seconds must be a number of seconds' })
    .int({ error: 'wait_time_seconds must be a whole number of seconds from 0 to 20 (SQS long polling)' })
    .min(0, { error: 'wait_time_seconds must be a whole number of seconds from 0 to 20 (SQS long polling)' })
    .max(20, { error: 'wait_time_seconds must be a whole number of seconds from 0 to 20 (SQS long polling)' })
    .optional(),
  /** Consumer-side: the worker's pause between polls. Accepted so the block copies over. */
  pollingInterval: z.number({ error: 'polling_interval must be a number of seconds' }).nonnegative().optional(),
  /** https to the URL's host (kombu: http unless true). */
  isSecure: z.boolean({ error: 'is_secure must be true or false' }).optional(),
  /**
   * kombu's STS role: with predefined queues, kombu sends to them with this role's credentials
   * (AssumeRole, RoleSessionName "Celery"), assumed with the default credential chain.
   */
  stsRoleArn: z
    .string({ error: 'sts_role_arn must be a role ARN such as "arn:aws:iam::123456789012:role/celery"' })
    .regex(/^arn:[\w-]+:iam::\d{12}:role\/\S+$/, {
      error: 'sts_role_arn must be a role ARN such as "arn:aws:iam::123456789012:role/celery"',
    })
    .optional(),
  /** AssumeRole's DurationSeconds (kombu's default 900, AWS's range 900-43200). */
  stsTokenTimeout: z
    .number({ error: 'sts_token_timeout must be a number of seconds' })
    .int({ error: "sts_token_timeout must be a whole number of seconds from 900 to 43200 (AssumeRole's DurationSeconds)" })
    .min(900, { error: "sts_token_timeout must be a whole number of seconds from 900 to 43200 (AssumeRole's DurationSeconds)" })
    .max(43_200, { error: "sts_token_timeout must be a whole number of seconds from 900 to 43200 (AssumeRole's DurationSeconds)" })
    .optional(),
  /** kombu 5.6's refresh this many seconds before the role's credentials expire (default 0). */
  stsTokenBufferTime: z
    .number({ error: 'sts_token_buffer_time must be a number of seconds' })
    .nonnegative({ error: 'sts_token_buffer_time must be 0 or more seconds' })
    .optional(),
  /** kombu's default true: the envelope is base64-encoded in the SQS message body. Workers must use the same. */
  sqsBase64Encoding: z.boolean({ error: 'sqs_base64_encoding must be true or false' }).optional(),
  /** Extra CreateQueue attributes for the queues tsbeat creates, as kombu's `sqs-creation-attributes`. */
  sqsCreationAttributes: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]), {
      error: 'sqs-creation-attributes must map CreateQueue attribute names to values',
    })
    .optional(),
  /** botocore's client Config (kombu's `client-config`), as sqs-client-config.ts takes it. */
  clientConfig: sqsClientConfig.optional(),
};

export const SQS_OPTION_ALIASES = {
  'sqs-creation-attributes': 'sqsCreationAttributes',
  'client-config': 'clientConfig',
} as const;

type SqsOptions = { readonly [K in keyof typeof sqsTransportOptions]?: z.output<(typeof sqsTransportOptions)[K]> };

export interface SqsOptionProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** What kombu 5.2 would refuse (`_validate_predifined_queues`), and what tsbeat does not do. */
export function sqsOptionProblems(options: SqsOptions): SqsOptionProblem[] {
  const problems: SqsOptionProblem[] = [];
  const at = (...path: (string | number)[]) => ['broker', 'transportOptions', ...path];
  for (const [name, queue] of Object.entries(options.predefinedQueues ?? {})) {
    const fifoUrl = queue.url.endsWith('.fifo');
    const fifoName = name.endsWith('.fifo');
    if (fifoUrl && !fifoName)
      problems.push({
        path: at('predefinedQueues', name),
        message: `the queue at ${queue.url} is a FIFO queue: its name must end with .fifo too (kombu refuses it otherwise)`,
      });
    else if (!fifoUrl && fifoName)
      problems.push({
        path: at('predefinedQueues', name),
        message: `"${name}" ends with .fifo but its url ${queue.url} is not a FIFO queue's (kombu refuses it otherwise)`,
      });
    if ((queue.accessKeyId === undefined) !== (queue.secretAccessKey === undefined))
      problems.push({ path: at('predefinedQueues', name), message: 'give both access_key_id and secret_access_key, or neither' });
  }
  if (options.stsRoleArn !== undefined && Object.keys(options.predefinedQueues ?? {}).length === 0)
    problems.push({
      path: at('stsRoleArn'),
      message:
        'kombu uses sts_role_arn for predefined_queues only and ignores it otherwise: name the queues in predefined_queues, or remove sts_role_arn (a role for every queue comes through the AWS SDK credential chain: AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, or a profile with role_arn)',
    });
  const timeout = options.stsTokenTimeout ?? DEFAULTS.sqsStsTokenTimeoutS;
  if (options.stsTokenBufferTime !== undefined && options.stsTokenBufferTime >= timeout)
    problems.push({
      path: at('stsTokenBufferTime'),
      message: `sts_token_buffer_time (${options.stsTokenBufferTime} s) must be less than sts_token_timeout (${timeout} s); kombu ignores it otherwise`,
    });
  for (const { key, message } of sqsClientConfigProblems(options.clientConfig ?? {}))
    problems.push({ path: at('clientConfig', key), message });
  return problems;
}
