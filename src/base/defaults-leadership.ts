/**
 * Leadership and the state in Redis: the lock and the clock check, replicas, the Redis
 * connections, the state's reads and writes, and stopping.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const LEADERSHIP_DEFAULTS = {
  /**
   * Loading the states of at most this many entries reads them by name (HMGET); more, the whole
   * state hash at once (HGETALL), which is quicker than naming most of its fields.
   */
  stateReadByNameMax: 1000,
  /** The state hash is read HSCAN … COUNT this at a time, decoded as it comes (the lock renews meanwhile). */
  stateScanCount: 10_000,
  /** Entry names per record-seen script call at start-up (a few milliseconds of Redis each). */
  stateSeenChunk: 5000,
  /**
   * Most elements handed to one call or Redis command by base/chunks.ts (HMGET of many names, say):
   * far below the ~45,000 arguments at which a spread overflows the stack, and small enough that
   * one command does not hold Redis up.
   */
  ioChunk: 10_000,
  /** Deployment name: replicas with the same name share state and one lock. */
  deploymentName: 'default',
  /** Prefix of every Redis key tsbeat writes for its own state. */
  statePrefix: 'tsbeat',
  /**
   * Longest wait, when a leader stops, for the publish in flight. A healthy publish takes
   * milliseconds; one on a black-holed connection may never settle, and stopping must not wait for it
   * (the fence and the per-slot check still decide if it reaches Redis later).
   */
  stopPublishWaitMs: 5000,
  /** Longest wait for one step of a shutdown (base/lifecycle.ts; the leader's takes stopPublishWaitMs + alerts/deliverer.ts ALERT_TIMEOUT_MS at worst), under Kubernetes' 30 s grace. */
  stopStepMs: 20_000,
  /** Lock lifetime without renewal: the failover time after a leader dies. */
  lockTtlMs: 10_000,
  /**
   * Renewals within a TTL of what tsbeat keeps alive by renewing it (base/renewer.ts): the leader's
   * lock unless lock.renewEvery is set, RedBeat's lock, the replica's heartbeat when the TTL is
   * short. Three: one renewal can be slow or fail and the next still comes before the expiry.
   */
  renewalsPerTtl: 3,
  /** How often a standby tries to take the lock. */
  lockRetryMs: 1000,
  /**
   * How far the local clock may be from the state Redis's (its TIME) for a replica to lead, and how
   * far ahead of Redis's clock a published slot may be. Schedules fire by the local clock: an
   * NTP-synchronised host is within milliseconds, and a second early or late is still on time for a
   * scheduler that fires whole seconds; beyond it runs go out visibly early or late, and slots
   * recorded ahead of the others' clocks stop them publishing until their clocks get there.
   */
  maxClockSkewMs: 1000,
  /**
   * The leader publishes its entry names with its record (so that a CLI or replica with another
   * config can name the entries that differ) up to this many; beyond, only their hash and count,
   * which keeps the record small for standbys that read it every retry.
   */
  fingerprintMaxNames: 10_000,
  /**
   * After `beat run` has stopped (state saved, lock released, connections closed), the process exits
   * at the latest this long after: a socket or timer of a library that failed to close must not keep
   * a stopped scheduler alive until the orchestrator's SIGKILL.
   */
  exitGraceMs: 1000,
  /**
   * How long a closing Redis socket may take to say goodbye before it is destroyed (ioredis's default
   * is 2 s). After an outage ioredis still holds the dead socket and waits this long for a 'close'
   * that already happened, which held a stopped process open.
   */
  redisDisconnectTimeoutMs: 200,
  /**
   * How long a write of runtime entries keeps its reply: ioredis sends a command again when its
   * connection died before the reply (a large write past redisSocketTimeoutMs under load), and the
   * second sending must answer "created", not "unchanged", for what the first one wrote.
   */
  entriesReceiptMs: 60_000,
  /** A Redis connection silent this long is destroyed and reconnected (black-holed networks). */
  redisSocketTimeoutMs: 5000,
  /** Reconnecting to Redis backs off exponentially from 100 ms up to this, plus up to 100 ms of jitter; it never gives up. */
  redisReconnectMaxBackoffMs: 5000,
} as const;
