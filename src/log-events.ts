/** Every value of the `event` field of a log line. Operators alert on these: they are stable. */
export const EVENTS = {
  publish: 'beat.publish',
  publishDropped: 'beat.publish.dropped',
  publishError: 'beat.publish.error',
  brokerConnect: 'beat.broker.connect',
  brokerReconnect: 'beat.broker.reconnect',
  brokerError: 'beat.broker.error',
  /** One batch handed to the broker (debug): message, delivery and drop counts. */
  brokerPublish: 'beat.broker.publish',
  /** Queue bindings declared on a new connection (kombu's maybe_declare). */
  brokerDeclare: 'beat.broker.declare',
  /** Something about the broker connection an operator should fix, e.g. TLS without verification. */
  brokerWarning: 'beat.broker.warning',
  /** RabbitMQ blocked (or unblocked) the connection: a resource alarm; publishes wait until it clears. */
  brokerBlocked: 'beat.broker.blocked',
  /**
   * AMQP: messages the broker confirmed but whose state could not be recorded (fence lost, Redis
   * down): another publish of the same slots, with the same task ids, may follow.
   */
  publishUnrecorded: 'beat.publish.unrecorded',
  /** A run was published: entry, task, queue, slot, task id. */
  fire: 'beat.fire',
  /** A due slot was passed over (catch-up policy, window), with the reason. */
  skip: 'beat.skip',
  /** An overdue entry was fired once for several missed slots, or missed slots were replayed. */
  catchUp: 'beat.catch_up',
  /** A slot had already been published (by a previous leader, or a race): not published again. */
  stale: 'beat.stale',
  /** This instance tried to publish without holding the fence: nothing was published. */
  fenced: 'beat.fenced',
  lockAcquired: 'beat.lock.acquired',
  lockLost: 'beat.lock.lost',
  lockReleased: 'beat.lock.released',
  lockRenewFailed: 'beat.lock.renew_failed',
  lockHandover: 'beat.lock.handover',
  lockError: 'beat.lock.error',
  /**
   * The lock key is not a tsbeat lock (no expiry, another type or value): no replica can lead until
   * it is deleted. Names the key and the command that clears it; `cleared: true` once it is gone.
   */
  lockBlocked: 'beat.lock.blocked',
  /**
   * A standby's config differs from the one the leader runs (entries it lacks or adds, or the same
   * entries defined differently): two deployments sharing a `name`, or a rolling update in progress.
   */
  configMismatch: 'beat.config.mismatch',
  redisConnect: 'beat.redis.connect',
  redisReconnect: 'beat.redis.reconnect',
  redisError: 'beat.redis.error',
  /** Start-up checks: Redis may evict keys, the local clock is off. */
  redisWarning: 'beat.redis.warning',
  clockSkew: 'beat.clock.skew',
  start: 'beat.start',
  stop: 'beat.stop',
  /** Stopped, yet something (named in `handles`) still held the process open; it exits anyway. */
  stopLingering: 'beat.stop.lingering',
  standby: 'beat.standby',
  tickError: 'beat.tick.error',
  /** A manual run (`beat trigger`) was published. */
  trigger: 'beat.trigger',
  pause: 'beat.pause',
  resume: 'beat.resume',
  reload: 'beat.reload',
  reloadFailed: 'beat.reload.failed',
  httpListen: 'beat.http.listen',
  httpError: 'beat.http.error',
} as const;
export type EventName = (typeof EVENTS)[keyof typeof EVENTS];
