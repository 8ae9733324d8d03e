/**
 * Which Celery workers went away, from their liveness events (celery/task-events.ts WorkerEvent):
 * for the tracker, whose runs STARTED on such a worker are lost (issue 70). Pure: the time is an argument.
 *
 * A worker is gone when it says so (worker-offline: a warm or cold shutdown), or when its
 * heartbeats stopped for HEARTBEAT_MISSES times its `freq` (a worker killed, its host down, sends
 * nothing). The second is trusted only of a worker heard heartbeating while it ran a task
 * (`active` > 0): a worker of the solo pool runs a task in the thread that sends its heartbeats,
 * so it is silent for as long as each task runs, and only such a worker never sends `active` > 0.
 * Silence is measured on this leader's clock, from when each event arrived (the workers' clocks
 * may differ), and restarted when the feed subscribes again or this leader was itself stalled.
 */
import type { WorkerEvent } from '../ports/outcomes.js';

/** Heartbeats missed in a row before a worker is taken for gone (Celery's own monitors wait 2: a loaded broker delays some). */
export const HEARTBEAT_MISSES = 5;

interface Heard {
  /** When its last heartbeat arrived (this leader's clock). */
  atMs: number;
  freqMs: number;
  /** It heartbeats while it runs tasks (see above). */
  beatsWhileBusy: boolean;
}

export class WorkerLiveness {
  private readonly heard = new Map<string, Heard>();
  /** Workers gone since the last `gone`, and why. */
  private readonly left = new Map<string, string>();
  private lastCheckMs: number | undefined;

  /** `stallMs`: a gap between two `gone` calls longer than this is this leader's own stall, not the workers'. */
  constructor(private readonly stallMs: number) {}

  events(events: readonly WorkerEvent[], nowMs: number): void {
    for (const event of events) {
      const { hostname } = event;
      if (event.type === 'worker-offline') {
        this.heard.delete(hostname);
        this.left.set(hostname, 'went offline (worker-offline)');
        continue;
      }
      const before = this.heard.get(hostname);
      this.left.delete(hostname);
      this.heard.set(hostname, {
        atMs: nowMs,
        freqMs: event.freqMs,
        beatsWhileBusy: (before?.beatsWhileBusy ?? false) || event.active > 0,
      });
    }
  }

  /** The feed (re)subscribed: silence counts from now. */
  listening(nowMs: number): void {
    for (const worker of this.heard.values()) worker.atMs = nowMs;
  }

  /** The workers gone since the last call, each with why (`went offline …`); each is told once. */
  gone(nowMs: number): Map<string, string> {
    const stalled = this.lastCheckMs !== undefined && nowMs - this.lastCheckMs > this.stallMs;
    this.lastCheckMs = nowMs;
    if (stalled) this.listening(nowMs);
    for (const [hostname, worker] of this.heard) {
      const silentMs = nowMs - worker.atMs;
      if (!worker.beatsWhileBusy || silentMs <= HEARTBEAT_MISSES * worker.freqMs) continue;
      this.heard.delete(hostname);
      this.left.set(
        hostname,
        `sent no heartbeat for ${Math.round(silentMs / 1000)} s (one every ${worker.freqMs / 1000} s; killed, or its host is down)`,
      );
    }
    const out = new Map(this.left);
    this.left.clear();
    return out;
  }

  clear(): void {
    this.heard.clear();
    this.left.clear();
    this.lastCheckMs = undefined;
  }
}
