/**
 * Which Celery workers went away, from their liveness events (celery/task-events.ts WorkerEvent):
 * for the tracker, whose runs STARTED on such a worker are lost (issue 70). Pure: the time is an argument.
 *
 * worker-offline alone is no sign: a warm shutdown (SIGTERM) sends it before its running tasks end,
 * and their task events after it (a cold one, SIGQUIT, sends the same event and kills them: the two
 * cannot be told apart). A worker is gone when
 * - its heartbeats stopped for HEARTBEAT_MISSES times its `freq` without a worker-offline (killed,
 *   its host down). Trusted only of a worker heard heartbeating while it ran a task (`active` > 0):
 *   one of the solo pool runs a task in the thread that sends its heartbeats, so it is silent for
 *   as long as each task runs, and only such a worker never sends `active` > 0. Silence is measured
 *   on this leader's clock, from when each heartbeat arrived (the workers' clocks may differ), and
 *   restarted when the feed subscribes again or this leader was itself stalled;
 * - it is heard from another main process (`pid`) than the one that started a run: started again
 *   under the same name (which Celery keeps unique), its former process is gone, whatever its pool
 *   or its way out. A broker reconnect restarts the worker's consumer (and sends worker-online
 *   again) in the same process, whose running tasks go on: not a loss.
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

/** A worker gone: why, and (started again) its process now: the runs another process of it started are lost. */
export interface WorkerGone {
  readonly why: string;
  readonly pid?: number;
}

export class WorkerLiveness {
  private readonly heard = new Map<string, Heard>();
  /** Each worker's main process as last heard, while it is heard (worker-offline and silence forget it). */
  private readonly pids = new Map<string, number>();
  /** Workers gone since the last `gone`. */
  private readonly left = new Map<string, WorkerGone>();
  private lastCheckMs: number | undefined;

  /** `stallMs`: a gap between two `gone` calls longer than this is this leader's own stall, not the workers'. */
  constructor(private readonly stallMs: number) {}

  events(events: readonly WorkerEvent[], nowMs: number): void {
    for (const event of events) {
      const { hostname } = event;
      // Leaving: no heartbeat comes now, and what it runs may still end (a warm shutdown).
      if (event.type === 'worker-offline') {
        this.heard.delete(hostname);
        this.pids.delete(hostname);
        continue;
      }
      const before = this.heard.get(hostname);
      if (event.pid !== undefined && this.pids.get(hostname) !== event.pid) {
        this.pids.set(hostname, event.pid);
        this.left.set(hostname, { why: `was started again (now pid ${event.pid})`, pid: event.pid });
      }
      const beatsWhileBusy = (event.type === 'worker-heartbeat' && before?.beatsWhileBusy === true) || event.active > 0;
      this.heard.set(hostname, { atMs: nowMs, freqMs: event.freqMs, beatsWhileBusy });
    }
  }

  /** The feed (re)subscribed: silence counts from now. */
  listening(nowMs: number): void {
    for (const worker of this.heard.values()) worker.atMs = nowMs;
  }

  /** The workers gone since the last call; each is told once. */
  gone(nowMs: number): Map<string, WorkerGone> {
    const stalled = this.lastCheckMs !== undefined && nowMs - this.lastCheckMs > this.stallMs;
    this.lastCheckMs = nowMs;
    if (stalled) this.listening(nowMs);
    for (const [hostname, worker] of this.heard) {
      const silentMs = nowMs - worker.atMs;
      if (silentMs <= HEARTBEAT_MISSES * worker.freqMs) continue;
      // Forgotten either way (the names of workers that came and went do not pile up); told only when trusted.
      this.heard.delete(hostname);
      this.pids.delete(hostname);
      if (worker.beatsWhileBusy)
        this.left.set(hostname, {
          why: `sent no heartbeat for ${Math.round(silentMs / 1000)} s (one every ${worker.freqMs / 1000} s; killed, or its host is down)`,
        });
    }
    const out = new Map(this.left);
    this.left.clear();
    return out;
  }

  clear(): void {
    this.heard.clear();
    this.pids.clear();
    this.left.clear();
    this.lastCheckMs = undefined;
  }
}
