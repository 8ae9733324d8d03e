/**
 * The Amazon SQS transport: Celery's messages sent as kombu 5.2's SQS transport sends them, through
 * the AWS SDK for JavaScript v3 (credentials from the URL, else the SDK's chain: environment,
 * shared profile, web identity, instance metadata).
 *
 * A message counts as sent only when SQS listed it among a SendMessageBatch call's `Successful`
 * entries. An entry SQS lists as `Failed` (too large, a bad group id, …), a call that failed as a
 * whole (the queue does not exist, network, timeout) and a message the plan refused all count as
 * NOT sent, each with its reason; the other messages of the burst go on. Queues resolve as kombu's
 * `_new_queue` does: predefined queues by their URL; otherwise GetQueueUrl, and a queue that does
 * not exist is created with kombu's attributes (VisibilityTimeout, FifoQueue, and
 * `sqs-creation-attributes`), as Celery's own beat would. A queue found missing on a send (deleted,
 * or a server restarted empty) is looked up again on the next one.
 */
import { randomUUID } from 'node:crypto';
import type * as Sdk from '@aws-sdk/client-sqs';
import type { SQSClient, SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import type { TaskMessage } from '../celery/message.js';
import type { TransportOptionsInput } from '../config/options-schema.js';
import { parseSqsUrl, sqsEndpoint } from '../config/sqs-url.js';
import type { SqsConnectionSpec, SqsCredentials } from '../config/sqs-url.js';
import { DEFAULTS } from '../base/defaults.js';
import { loadOnFirstUse } from '../base/load-on-first-use.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { planSqsPublish, sqsBatches, sqsPlanSettings } from './message.js';
import type { SqsDelivery, SqsPlanSettings, SqsPublishPlan } from './message.js';
import { AssumedRole } from './assume-role.js';
import type { RoleCredentials } from './assume-role.js';
import { sqsClientSettings } from './client-settings.js';
import type { SqsClientSettings } from './client-settings.js';

export interface SqsTransportOptions {
  readonly url: string;
  readonly transportOptions: TransportOptionsInput;
  readonly logger: Logger;
  /** The process environment, for the region ($AWS_REGION, $AWS_DEFAULT_REGION). */
  readonly env?: NodeJS.ProcessEnv;
  readonly batchesInFlight?: number;
}

/** What became of one message (the AMQP transport's result shape: the dispatcher takes either). */
export type SqsSendResult = { readonly status: 'confirmed' } | { readonly status: 'failed'; readonly error: Error };

/** Loaded by the first deployment that sends to SQS, not bundled into every start of the command line. */
const loadSdk = loadOnFirstUse<typeof Sdk>('@aws-sdk/client-sqs');
function sdk(): typeof Sdk {
  // The SDK's runtime-support warning names Node versions tsbeat's own `engines` already rules out
  // (22.12+), so it would only be noise in every run's log.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  return loadSdk();
}

/** SendMessageBatch calls in flight at once during a burst (each carries up to 10 messages). */
const SQS_BATCHES_IN_FLIGHT = 16;

const failed = (error: unknown): SqsSendResult => ({ status: 'failed', error: error instanceof Error ? error : new Error(String(error)) });

/** SQS's answer for a queue that is not there, in the JSON and in the query protocol. */
function queueMissing(error: unknown): boolean {
  const name = (error as { name?: unknown; Code?: unknown } | undefined)?.name;
  return name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue';
}

interface QueueTarget {
  readonly client: SQSClient;
  readonly url: string;
}

export class SqsTransport {
  readonly spec: SqsConnectionSpec;
  private readonly logger: Logger;
  private readonly options: TransportOptionsInput;
  private readonly settings: SqsPlanSettings;
  private readonly env: NodeJS.ProcessEnv;
  private readonly clientSettings: SqsClientSettings;
  private readonly batchesInFlight: number;
  /** The region of the queues that name none; resolved on first use (a shared profile is read then). */
  private channelRegion: Promise<string> | undefined;
  /** sts_role_arn's credentials, shared by the predefined queues' clients. */
  private readonly role: AssumedRole | undefined;
  private readonly clients = new Map<string, SQSClient>();
  /** SQS queue name → its URL (being) resolved. */
  private readonly urls = new Map<string, Promise<QueueTarget>>();
  /** The last call's failure that was not one message's own (network, credentials), or undefined. */
  private lastFailure: string | undefined;

  constructor(options: SqsTransportOptions) {
    this.spec = parseSqsUrl(options.url);
    this.options = options.transportOptions;
    this.logger = options.logger.child({ broker: this.spec.display });
    this.env = options.env ?? process.env;
    this.clientSettings = sqsClientSettings(this.options.clientConfig);
    this.batchesInFlight = options.batchesInFlight ?? SQS_BATCHES_IN_FLIGHT;
    this.settings = sqsPlanSettings(this.options);
    const roleArn = this.options.stsRoleArn;
    this.role =
      roleArn === undefined
        ? undefined
        : new AssumedRole(
            {
              roleArn,
              durationS: this.options.stsTokenTimeout ?? DEFAULTS.sqsStsTokenTimeoutS,
              bufferS: this.options.stsTokenBufferTime ?? 0,
              region: () => this.region(),
              connectionTimeoutMs: this.clientSettings.connectionTimeoutMs,
              requestTimeoutMs: this.clientSettings.requestTimeoutMs,
            },
            this.logger,
          );
  }

  /**
   * kombu's `Channel.region`: transport option `region`, else boto3's session region ($AWS_REGION
   * as the AWS SDK reads it, $AWS_DEFAULT_REGION as boto3 does, then the `region` of the shared
   * profile, $AWS_PROFILE, in ~/.aws/config or $AWS_CONFIG_FILE), else us-east-1.
   */
  region(): Promise<string> {
    this.channelRegion ??= (async () => {
      const named = this.options.region ?? this.env['AWS_REGION'] ?? this.env['AWS_DEFAULT_REGION'];
      if (named !== undefined && named !== '') return named;
      // The SDK's own region chain (its environment variable, then the shared profile), read by a
      // client that makes no call: the profile's format and precedence stay the SDK's.
      const probe = new (sdk().SQSClient)({});
      try {
        return await probe.config.region();
      } catch {
        return DEFAULTS.sqsRegion;
      } finally {
        probe.destroy();
      }
    })();
    return this.channelRegion;
  }

  async plan(messages: readonly TaskMessage[]): Promise<SqsPublishPlan> {
    return planSqsPublish(messages, this.settings, randomUUID);
  }

  /** Sends a plan, each queue's messages in batches of up to 10, several calls in flight, and reports each message. */
  async send(plan: SqsPublishPlan): Promise<SqsSendResult[]> {
    const results: SqsSendResult[] = plan.messages.map(() => failed(new Error('not sent')));
    const byQueue = new Map<string, number[]>();
    plan.messages.forEach((m, i) => {
      if (m.problem !== undefined) results[i] = failed(new Error(m.problem));
      else byQueue.set(m.sqsQueue, [...(byQueue.get(m.sqsQueue) ?? []), i]);
    });
    const calls: (() => Promise<void>)[] = [];
    await Promise.all(
      [...byQueue].map(async ([queue, indexes]) => {
        let target: QueueTarget;
        try {
          target = await this.target(queue);
        } catch (error) {
          this.urls.delete(queue);
          const why = new Error(`queue "${queue}": ${errorMessage(error)}`, { cause: error });
          for (const i of indexes) results[i] = failed(why);
          return;
        }
        for (const batch of sqsBatches(plan.messages, indexes))
          calls.push(() => this.sendBatch(queue, target, plan.messages, batch, results));
      }),
    );
    await inPool(calls, this.batchesInFlight);
    const sent = results.filter((r) => r.status === 'confirmed').length;
    this.logger.debug({ event: EVENTS.brokerPublish, planned: plan.size, sent }, 'sent to SQS');
    return results;
  }

  private async sendBatch(
    queue: string,
    target: QueueTarget,
    messages: readonly SqsDelivery[],
    batch: readonly number[],
    results: SqsSendResult[],
  ): Promise<void> {
    const entries: SendMessageBatchRequestEntry[] = batch.map((i, n) => {
      const m = messages[i] as SqsDelivery;
      return {
        Id: String(n),
        MessageBody: m.body,
        ...(m.groupId === undefined ? {} : { MessageGroupId: m.groupId, MessageDeduplicationId: m.deduplicationId }),
      };
    });
    try {
      const reply = await target.client.send(new (sdk().SendMessageBatchCommand)({ QueueUrl: target.url, Entries: entries }));
      this.lastFailure = undefined;
      for (const ok of reply.Successful ?? []) {
        const i = batch[Number(ok.Id)];
        if (i !== undefined) results[i] = { status: 'confirmed' };
      }
      for (const bad of reply.Failed ?? []) {
        const i = batch[Number(bad.Id)];
        if (i !== undefined)
          results[i] = failed(new Error(`SQS refused the message on queue "${queue}": ${bad.Code ?? 'error'}: ${bad.Message ?? ''}`));
      }
    } catch (error) {
      if (queueMissing(error)) this.urls.delete(queue);
      else if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === undefined)
        this.lastFailure = errorMessage(error);
      const why = new Error(`SQS did not take ${batch.length} message(s) for queue "${queue}": ${errorMessage(error)}`, { cause: error });
      for (const i of batch) results[i] = failed(why);
    }
  }

  /**
   * A queue's messages as SQS counts them (GetQueueAttributes, approximate): `waiting` to be
   * received, `inFlight` received by some consumer and not yet deleted. `queue` is its SQS name;
   * it is found (or created) as a send would find it.
   */
  async queueCounts(queue: string): Promise<{ waiting: number; inFlight: number }> {
    let target: QueueTarget;
    try {
      target = await this.target(queue);
    } catch (error) {
      this.urls.delete(queue);
      throw error;
    }
    try {
      const reply = await target.client.send(
        new (sdk().GetQueueAttributesCommand)({
          QueueUrl: target.url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      const count = (name: string): number => {
        const n = Number(reply.Attributes?.[name as keyof typeof reply.Attributes]);
        if (!Number.isSafeInteger(n) || n < 0) throw new Error(`SQS answered no ${name} for queue "${queue}"`);
        return n;
      };
      return { waiting: count('ApproximateNumberOfMessages'), inFlight: count('ApproximateNumberOfMessagesNotVisible') };
    } catch (error) {
      if (queueMissing(error)) this.urls.delete(queue);
      throw error;
    }
  }

  /** The queue's URL and client: predefined, found, or created as kombu creates it. */
  private target(queue: string): Promise<QueueTarget> {
    let found = this.urls.get(queue);
    if (found === undefined) {
      found = this.resolve(queue);
      this.urls.set(queue, found);
    }
    return found;
  }

  private async resolve(queue: string): Promise<QueueTarget> {
    const predefined = this.options.predefinedQueues?.[queue];
    if (predefined !== undefined) {
      // As kombu: with sts_role_arn every predefined queue uses the role (its own keys are not used).
      const own = predefined.accessKeyId !== undefined && predefined.secretAccessKey !== undefined;
      const credentials =
        this.role !== undefined
          ? this.role
          : own
            ? { accessKeyId: predefined.accessKeyId as string, secretAccessKey: predefined.secretAccessKey as string }
            : this.spec.credentials;
      return { client: this.client(predefined.region, credentials), url: predefined.url };
    }
    const client = this.client(undefined, this.spec.credentials);
    try {
      const reply = await client.send(new (sdk().GetQueueUrlCommand)({ QueueName: queue }));
      if (reply.QueueUrl !== undefined) return { client, url: reply.QueueUrl };
    } catch (error) {
      if (!queueMissing(error)) throw error;
    }
    const attributes: Record<string, string> = {
      VisibilityTimeout: String(this.options.visibilityTimeout ?? DEFAULTS.sqsVisibilityTimeoutS),
    };
    if (queue.endsWith('.fifo')) attributes['FifoQueue'] = 'true';
    for (const [k, v] of Object.entries(this.options.sqsCreationAttributes ?? {})) attributes[k] = String(v);
    const created = await client.send(new (sdk().CreateQueueCommand)({ QueueName: queue, Attributes: attributes }));
    if (created.QueueUrl === undefined) throw new Error('CreateQueue returned no QueueUrl');
    this.logger.info({ event: EVENTS.brokerPublish, queue, url: created.QueueUrl }, `created SQS queue "${queue}" (as kombu would)`);
    return { client, url: created.QueueUrl };
  }

  /**
   * One client per region and credentials, made as kombu's `new_sqs_client` makes them: the URL's
   * endpoint (or AWS's, over http with `is_secure: false`), `client-config` applied.
   * `region` undefined: the channel's (see region()); client-config's `region_name` wins over both,
   * as botocore's Config does.
   */
  private client(region: string | undefined, credentials: SqsCredentials | AssumedRole | undefined): SQSClient {
    const who =
      credentials === undefined
        ? ''
        : credentials instanceof AssumedRole
          ? 'sts'
          : `${credentials.accessKeyId}\n${credentials.secretAccessKey}`;
    const key = `${region ?? ''}\n${who}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      const s = this.clientSettings;
      const chosen: string | (() => Promise<string>) = s.region ?? region ?? (() => this.region());
      // kombu's use_ssl=False towards AWS itself: its plain-http endpoint.
      const endpoint =
        sqsEndpoint(this.spec, this.options.isSecure) ??
        (this.options.isSecure === false
          ? async () => ({ url: new URL(`http://sqs.${typeof chosen === 'string' ? chosen : await chosen()}.amazonaws.com`) })
          : undefined);
      const agent = s.maxSockets === undefined ? {} : { httpAgent: { maxSockets: s.maxSockets }, httpsAgent: { maxSockets: s.maxSockets } };
      client = new (sdk().SQSClient)({
        region: chosen,
        ...(endpoint === undefined ? {} : { endpoint }),
        ...(credentials === undefined
          ? {}
          : { credentials: credentials instanceof AssumedRole ? (): Promise<RoleCredentials> => credentials.credentials() : credentials }),
        ...(s.maxAttempts === undefined ? {} : { maxAttempts: s.maxAttempts }),
        ...(s.retryMode === undefined ? {} : { retryMode: s.retryMode }),
        ...(s.customUserAgent === undefined ? {} : { customUserAgent: s.customUserAgent }),
        ...(s.userAgentAppId === undefined ? {} : { userAgentAppId: s.userAgentAppId }),
        ...(s.useFipsEndpoint === undefined ? {} : { useFipsEndpoint: s.useFipsEndpoint }),
        ...(s.useDualstackEndpoint === undefined ? {} : { useDualstackEndpoint: s.useDualstackEndpoint }),
        ...(s.defaultsMode === undefined ? {} : { defaultsMode: s.defaultsMode }),
        ...(s.ignoreConfiguredEndpointUrls === undefined ? {} : { ignoreConfiguredEndpointUrls: s.ignoreConfiguredEndpointUrls }),
        requestHandler: { connectionTimeout: s.connectionTimeoutMs, requestTimeout: s.requestTimeoutMs, ...agent },
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /**
   * Loads the SDK and builds the default client now, at start, rather than in the first burst
   * (loading the SDK takes a few hundred ms of CPU). Makes no call: SQS has no connection to open.
   */
  warm(): void {
    this.client(undefined, this.spec.credentials);
  }

  /** Able to send, as far as the last call tells. */
  ready(): boolean {
    return this.lastFailure === undefined;
  }

  get status(): string {
    return this.lastFailure === undefined ? 'sqs' : `sqs unreachable: ${this.lastFailure}`;
  }

  async close(): Promise<void> {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
    this.role?.close();
    this.urls.clear();
  }
}

/** Runs `tasks` with at most `limit` in flight. */
async function inPool(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next] as () => Promise<void>;
      next += 1;
      await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
}
