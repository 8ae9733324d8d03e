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
   * An entry whose runs are refused because of the entry itself (its queue key holds another Redis
   * type, its exchange does not exist…) is retried after a backoff (runtime/entry-backoff.ts
   * ENTRY_RETRY_MIN_MS), doubled at each refusal up to this; the other entries are not held back.
   */
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
} as const;
