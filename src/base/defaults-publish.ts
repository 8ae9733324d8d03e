/**
 * Publishing due runs: the batches of a burst and their retries, and the brokers (Redis, AMQP,
 * SQS), with the reason for each value.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const PUBLISH_DEFAULTS = {
  /**
   * The scheduler's fenced publish calls (one Lua script each) in flight at once during a burst:
   * two let Redis run one batch while the next is encoded and sent. More only queue on Redis.
   */
  dispatchMaxInFlight: 2,
  /** Runs of one wake-up logged one by one at info (`beat.fire`); the rest at debug, and a `beat.burst` line. */
  fireLogSample: 1000,
  /**
   * Published batches waiting to be recorded before a burst records them as it goes: a burst of up
   * to this many batches is recorded after its last (its messages first); a longer one keeps no more.
   */
  dispatchRecordBacklog: 40,
  /**
   * Runs per dispatcher call (one Lua script invocation on Redis). Small enough that the batches in
   * flight (their messages and envelopes) stay a few megabytes, since every young-generation
   * collection copies what is live; large enough that the script's fixed cost per call is noise.
   */
  dispatchBatchRuns: 500,
  /**
   * After a failed publish, the scheduler waits this long before trying the runs it kept due again
   * (not capped by maxInterval): a retry at once would spin for as long as Redis or the broker is down.
   */
  publishRetryMs: 1000,
  /**
   * A run refused because its entry changed since it was read (PublishResult 'superseded') is tried
   * again this much later if the runtime entries have not been read again by then.
   */
  supersededRetryMs: 1000,
  /**
   * How long a pending attempt (issue 70) is claimed for while a broker outside Redis (RabbitMQ,
   * SQS) sends it: no leader finds it due meanwhile (retry-fenced.lua 'claim'). Longer than a send
   * may take (a batch's confirms, amqpConfirmTimeoutMs, then a resend one by one; an SQS call,
   * sqsRequestTimeoutMs); short enough that an attempt whose send failed, or whose leader died
   * before the commit, goes again a minute later.
   */
  retryClaimMs: 60_000,
  /**
   * An entry whose runs are refused because of the entry itself (its queue key holds another Redis
   * type, its exchange does not exist…) is retried after this long, doubled at each refusal up to
   * entryRetryMaxMs; the other entries are not held back.
   */
  entryRetryMinMs: 1000,
  entryRetryMaxMs: 30_000,
  /**
   * Where state and lock live when the broker is AMQP and `state.url` is unset: RabbitMQ cannot hold
   * them, so the local Redis, as Celery's own default Redis URL would be.
   */
  amqpStateUrl: 'redis://127.0.0.1:6379/0',
  /** Celery's `task_default_queue_type`: RabbitMQ's classic queues unless told otherwise. */
  amqpQueueType: 'classic' as 'classic' | 'quorum',
  /** Celery's `task_default_exchange_type`: a queue's own exchange is a direct one unless told otherwise. */
  amqpExchangeType: 'direct' as 'direct' | 'topic' | 'fanout',
  /** AMQP connect (TCP + TLS + handshake) timeout; kombu's is 4 s, a little more tolerates a busy broker. */
  amqpConnectTimeoutMs: 10_000,
  /**
   * AMQP heartbeat, seconds: a dead connection is noticed after about two missed beats, and with it
   * the confirms that will never come. RabbitMQ suggests 60; a publisher wants to know sooner.
   */
  amqpHeartbeatS: 20,
  /**
   * Longest wait for the publisher confirms of one batch. Past it the unconfirmed messages count as
   * not sent and the connection is dropped and reopened, since their fate on it is unknown.
   */
  amqpConfirmTimeoutMs: 15_000,
  /**
   * Amazon SQS: the region when neither transportOptions.region, $AWS_REGION, $AWS_DEFAULT_REGION
   * nor the shared profile's `region` names one (kombu's default).
   */
  sqsRegion: 'us-east-1',
  /** kombu's `sts_token_timeout` default, seconds: AssumeRole's DurationSeconds for `sts_role_arn`. */
  sqsStsTokenTimeoutS: 900,
  /** kombu's `default_visibility_timeout`, seconds: the VisibilityTimeout of a queue tsbeat creates, as Celery would. */
  sqsVisibilityTimeoutS: 1800,
  /** SQS calls: connect and whole-request timeouts. Past them the messages of the call count as not sent. */
  sqsConnectTimeoutMs: 10_000,
  sqsRequestTimeoutMs: 15_000,
  /** SendMessageBatch calls in flight at once during a burst (each carries up to 10 messages). */
  sqsBatchesInFlight: 16,
} as const;
