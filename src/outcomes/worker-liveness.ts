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
 * - it is heard from another main process (`pid`) than the one that started a run, and that one has
 *   been silent as long: started again under the same name, its former process is gone, whatever
 *   its pool or its way out. Two processes heard under one name (Celery only warns of a duplicate
 *   name) lose nothing. A broker reconnect restarts the worker's consumer (and sends worker-online
 *   again) in the same process, whose running tasks go on: not a loss.
 * No one is judged while no worker at all has been heard for a while (the feed, not the workers,
 * may be down: a broker restarting, a Redis outage) or this leader itself stalled.
 */
import type { WorkerEvent } from '../ports/outcomes.js';

/** Heartbeats missed in a row before a worker is taken for gone (Celery's own monitors wait 2: a loaded broker delays some). */
export const HEARTBEAT_MISSES = 5;
/** A worker's `freq` as trusted: an event's is anything its sender wrote (0.0004 s would lose its runs at once; 1e300 keep it forever). */
const FREQ_MIN_MS = 1000;
const FREQ_MAX_MS = 60_000;
/** A process not heard for this long is forgotten (a name that came and went does not stay). */
const FORGET_MS = 3_600_000;

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
  /** Each worker's main processes as heard: when each was heard last, and whether it said worker-offline. */
  private readonly pids = new Map<string, Map<number, { atMs: number; offline: boolean }>>();
  /** Workers gone since the last `gone`. */
  private readonly left = new Map<string, WorkerGone>();
  private lastCheckMs: number | undefined;
  /** When any worker's event last arrived: while none comes, the feed may be what is silent, and no one is judged. */
  private lastAnyMs: number | undefined;

  /** `stallMs`: a gap between two `gone` calls longer than this is this leader's own stall, not the workers'. */
  constructor(private readonly stallMs: number) {}

  events(events: readonly WorkerEvent[], nowMs: number): void {
    for (const event of events) {
      const { hostname } = event;
      this.lastAnyMs = nowMs;
      // Leaving: no heartbeat comes now, and what it runs may still end (a warm shutdown).
      if (event.pid !== undefined) {
        const processes = this.pids.get(hostname) ?? new Map<number, { atMs: number; offline: boolean }>();
        processes.set(event.pid, { atMs: nowMs, offline: event.type === 'worker-offline' });
        this.pids.set(hostname, processes);
      }
      if (event.type === 'worker-offline') {
        this.heard.delete(hostname);
        continue;
      }
      const before = this.heard.get(hostname);
      const beatsWhileBusy = (event.type === 'worker-heartbeat' && before?.beatsWhileBusy === true) || event.active > 0;
      const freqMs = Math.min(FREQ_MAX_MS, Math.max(FREQ_MIN_MS, event.freqMs));
      this.heard.set(hostname, { atMs: nowMs, freqMs, beatsWhileBusy });
    }
  }

  /** The feed (re)subscribed: silence counts from now. */
  listening(nowMs: number): void {
    for (const worker of this.heard.values()) worker.atMs = nowMs;
    for (const processes of this.pids.values()) for (const process of processes.values()) process.atMs = nowMs;
    this.lastAnyMs = nowMs;
  }

  /** The workers gone since the last call; each is told once. */
  gone(nowMs: number): Map<string, WorkerGone> {
    const stalled = this.lastCheckMs !== undefined && nowMs - this.lastCheckMs > this.stallMs;
    this.lastCheckMs = nowMs;
    // This leader stalled, or no worker at all was heard for a while (the feed down, a broker
    // restarting, a backlog): nobody's silence is taken for a death.
    const feedQuiet = this.lastAnyMs === undefined || nowMs - this.lastAnyMs > HEARTBEAT_MISSES * FREQ_MIN_MS;
    if (stalled || feedQuiet) {
      this.listening(nowMs);
      return this.told();
    }
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
    // Started again: another process of the name is heard, and the former one said worker-offline
    // (a restart waits for it to exit) or has been silent as long as a dead worker's heartbeats. Two
    // live processes under one name (Celery only warns of it) are each heard, and lose nothing.
    for (const [hostname, processes] of this.pids) {
      const limitMs = HEARTBEAT_MISSES * (this.heard.get(hostname)?.freqMs ?? FREQ_MIN_MS);
      let newest: [number, { atMs: number; offline: boolean }] | undefined;
      for (const entry of processes) if (!entry[1].offline && (newest === undefined || entry[1].atMs > newest[1].atMs)) newest = entry;
      for (const [pid, process] of processes) {
        if (newest !== undefined && pid !== newest[0] && (process.offline || nowMs - process.atMs > limitMs)) {
          processes.delete(pid);
          this.left.set(hostname, { why: `was started again (now pid ${newest[0]})`, pid: newest[0] });
        } else if (nowMs - process.atMs > FORGET_MS) processes.delete(pid);
      }
      if (processes.size === 0) this.pids.delete(hostname);
    }
    return this.told();
  }

  private told(): Map<string, WorkerGone> {
    const out = new Map(this.left);
    this.left.clear();
    return out;
  }

  clear(): void {
    this.heard.clear();
    this.pids.clear();
    this.left.clear();
    this.lastCheckMs = undefined;
    this.lastAnyMs = undefined;
  }
}
