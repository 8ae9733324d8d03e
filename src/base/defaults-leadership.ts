/**
 * Leadership and the state in Redis: the lock and the clock check, replicas, the Redis
 * connections, the state's reads and writes, and stopping.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const LEADERSHIP_DEFAULTS = {
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
  /** Lock lifetime without renewal: the failover time after a leader dies. */
  lockTtlMs: 10_000,
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
