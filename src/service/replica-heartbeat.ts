/**
 * This process's entry in the replicas registry: written at start, every heartbeat (at most
 * REPLICA_HEARTBEAT_MS apart, and the renewal period of lock.ttl), and removed on a clean
 * stop. One short script call per heartbeat, renewed by the one renewer (base/renewer.ts); failures
 * are logged once per outage and the heartbeat goes on.
 */
import { hostname } from 'node:os';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { Renewer, renewalPeriodMs } from '../base/renewer.js';
import { VERSION } from '../base/version.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { HttpAddress } from '../http/server.js';
import type { Clock } from '../ports/clock.js';
import type { ReplicaRegistry } from '../redis/replica-registry.js';

/**
 * How often every `beat run` (leader or standby) writes its heartbeat to the replicas registry
 * (one short script call), and at most a third of lock.ttl: its record counts for lock.ttl after
 * each heartbeat, so a replica killed without stopping leaves the listings within lock.ttl.
 */
const REPLICA_HEARTBEAT_MS = 2000;

export interface ReplicaHeartbeatOptions {
  readonly registry: Pick<ReplicaRegistry, 'beat' | 'leave'>;
  readonly instanceId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The lock's TTL: a record counts this long after its heartbeat. */
  readonly ttlMs: number;
  readonly isLeader: () => boolean;
  /** Where this process serves HTTP, `host:port`, or null. */
  readonly http: () => string | null;
}

/** The heartbeat's period for a lock TTL: REPLICA_HEARTBEAT_MS, or the TTL's renewal period if that is shorter. */
export function heartbeatIntervalMs(ttlMs: number): number {
  return Math.min(REPLICA_HEARTBEAT_MS, renewalPeriodMs(ttlMs));
}

export class ReplicaHeartbeat {
  private readonly renewer: Renewer;
  private readonly startedAtMs: number;
  private lastError: string | undefined;

  constructor(private readonly options: ReplicaHeartbeatOptions) {
    this.startedAtMs = options.clock.now();
    this.renewer = new Renewer({ everyMs: heartbeatIntervalMs(options.ttlMs), renew: () => this.beat(), atStart: true });
  }

  start(): void {
    this.renewer.start();
  }

  /** Stops beating (after a beat in flight) and removes this replica's record. */
  async stop(): Promise<void> {
    await this.renewer.stop();
    const { registry, instanceId, logger } = this.options;
    await registry.leave(instanceId).catch((error: unknown) => {
      logger.warn(
        { event: EVENTS.replicaHeartbeatFailed, err: error },
        'could not remove this replica from the registry; it drops out of the listings when its heartbeat expires',
      );
    });
  }

  private async beat(): Promise<void> {
    const { registry, instanceId, clock, logger } = this.options;
    try {
      await registry.beat(
        {
          instance: instanceId,
          host: hostname(),
          pid: process.pid,
          version: VERSION,
          role: this.options.isLeader() ? 'leader' : 'standby',
          startedAtMs: this.startedAtMs,
          beatAtMs: clock.now(),
          http: this.options.http(),
        },
        this.options.ttlMs,
      );
      this.lastError = undefined;
    } catch (error) {
      // Once per outage, not once per heartbeat.
      const message = errorMessage(error);
      if (message !== this.lastError)
        logger.warn(
          { event: EVENTS.replicaHeartbeatFailed, err: error },
          'writing the heartbeat to the replicas registry failed; retrying',
        );
      this.lastError = message;
    }
  }
}

/** This replica's heartbeat in the registry, naming the HTTP address it serves on, if any. */
export function replicaHeartbeat(options: {
  config: ResolvedConfig;
  logger: Logger;
  clock: Clock;
  instanceId: string;
  registry: Pick<ReplicaRegistry, 'beat' | 'leave'>;
  isLeader: () => boolean;
  httpAddress: HttpAddress | undefined;
}): ReplicaHeartbeat {
  const { httpAddress: address } = options;
  return new ReplicaHeartbeat({
    registry: options.registry,
    instanceId: options.instanceId,
    clock: options.clock,
    logger: options.logger,
    ttlMs: options.config.lock.ttlMs,
    isLeader: options.isLeader,
    http: () => (address === undefined ? null : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`),
  });
}
