/**
 * What a standby checks while it waits, because nothing else would tell the operator: that the
 * config it runs differs from the leader's (most often a second deployment on the same Redis under
 * the same `name`: its entries never run), and that the lock key is one tsbeat did not write (no
 * replica can ever lead). Each is logged when it appears and when it clears, reported by /readyz and
 * in /status; `beat status` runs the same check.
 */
import type { RedisClient } from '../redis/connect.js';
import type { ConfigFingerprint, ConfigMismatch } from '../control/fingerprint.js';
import type { LeaderInfo } from '../control/status.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { ControlStore } from '../redis/control-store.js';
import { inspectLockKey } from '../redis/lock-inspect.js';
import type { LockKeyProblem } from '../redis/lock-inspect.js';

export interface DeploymentCheck {
  readonly leader: LeaderInfo | undefined;
  readonly mismatch: ConfigMismatch | undefined;
  readonly lockProblems: readonly LockKeyProblem[];
}

export interface DeploymentCheckInput {
  readonly control: ControlStore;
  /** The lock's Redis servers (the state Redis alone by default). */
  readonly lockClients: readonly RedisClient[];
  readonly lockKey: string;
  readonly deployment: string;
  readonly own: ConfigFingerprint;
  /** Entry names already read, by their hash. */
  readonly known?: Map<string, readonly string[] | undefined>;
}

export async function checkDeployment(input: DeploymentCheckInput): Promise<DeploymentCheck> {
  const [{ leader, mismatch }, ...locks] = await Promise.all([
    input.control.compareWithLeader(input.own, input.deployment, input.known),
    // One unreachable lock server of a quorum is not this check's business.
    ...input.lockClients.map((client) => inspectLockKey(client, input.lockKey, input.deployment).catch(() => undefined)),
  ]);
  return { leader, mismatch, lockProblems: locks.filter((p): p is LockKeyProblem => p !== undefined) };
}

/** The warnings of a check, for /status and `beat status`. */
export function warningsOf(check: DeploymentCheck | undefined): string[] {
  if (check === undefined) return [];
  return [...check.lockProblems.map((p) => p.message), ...(check.mismatch ? [check.mismatch.message] : [])];
}

export interface DeploymentWatchOptions {
  readonly check: () => Promise<DeploymentCheck>;
  readonly intervalMs: number;
  readonly isLeader: () => boolean;
  readonly logger: Logger;
}

export class DeploymentWatch {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private latest: DeploymentCheck | undefined;

  constructor(private readonly options: DeploymentWatchOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    void this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The last check's findings; none while leading (the leader's own config and lock are not in question). */
  get current(): DeploymentCheck | undefined {
    return this.options.isLeader() ? undefined : this.latest;
  }

  private async tick(): Promise<void> {
    if (this.running || this.options.isLeader()) return;
    this.running = true;
    try {
      const next = await this.options.check();
      if (this.timer !== undefined) this.report(this.latest, next);
      this.latest = next;
    } catch {
      // Redis unreachable: its connection logs that; the findings stay as last seen.
    } finally {
      this.running = false;
    }
  }

  private report(before: DeploymentCheck | undefined, after: DeploymentCheck): void {
    const { logger } = this.options;
    const old = new Set(before?.lockProblems.map((p) => p.message));
    for (const p of after.lockProblems) {
      if (!old.has(p.message))
        logger.error(
          { event: EVENTS.lockBlocked, key: p.key, server: p.server, noExpiry: p.noExpiry, foreign: p.foreign, fix: p.fix },
          p.message,
        );
    }
    if (before !== undefined && before.lockProblems.length > 0 && after.lockProblems.length === 0) {
      logger.info(
        { event: EVENTS.lockBlocked, cleared: true },
        'the lock key is a tsbeat lock again (or gone): leadership can change hands',
      );
    }
    const m = after.mismatch;
    if (m !== undefined && m.message !== before?.mismatch?.message) {
      logger.warn(
        { event: EVENTS.configMismatch, leader: after.leader?.instance, onlyHere: m.onlyHere, onlyLeader: m.onlyLeader },
        m.message,
      );
    }
    if (m === undefined && before?.mismatch !== undefined) {
      logger.info(
        { event: EVENTS.configMismatch, cleared: true, leader: after.leader?.instance ?? null },
        "this config is now the same as the leader's (or no leader is left to compare with)",
      );
    }
  }
}
