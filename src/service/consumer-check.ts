/**
 * The leader's consumer check (docs/outcomes.md, "Runs nobody consumes"): every consumers.every it
 * asks the broker who consumes the queues its entries publish to (one probe: one broadcast, one
 * reply window, one depth read per queue), judges the answer (control/consumer-watch.ts) and
 * reports the queues flagged and cleared to the scheduler's sinks (status record, metrics, alerts).
 * It runs on its own timer: the publish path never waits for it.
 */
import { PokedLoop } from '../base/poked-loop.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import { queueOf } from '../celery/routing.js';
import { consumerCheckOf } from '../config/resolve.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { ConsumerWatch } from '../control/consumer-watch.js';
import type { ConsumerProbe } from '../ports/consumers.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { LeaderTask } from './supervisor.js';

export interface ConsumerCheckOptions {
  readonly probe: ConsumerProbe;
  /** The config in force (a reload changes its entries and settings). */
  readonly config: () => ResolvedConfig;
  /** The runtime entries in force. */
  readonly runtimeEntries: () => readonly ResolvedEntry[];
  readonly events: SchedulerEvents;
  readonly now: () => number;
  readonly logger: Logger;
}

/** Each entry's queue, by config (its routes decide) and entry: a look walks the entries, not the routes again. */
const queues = new WeakMap<ResolvedConfig, WeakMap<ResolvedEntry, string>>();

/** The queues the enabled entries publish to, each with the entries that do. */
export function scheduleQueues(config: ResolvedConfig, entries: Iterable<ResolvedEntry>): Map<string, ResolvedEntry[]> {
  let known = queues.get(config);
  if (known === undefined) queues.set(config, (known = new WeakMap()));
  const out = new Map<string, ResolvedEntry[]>();
  for (const entry of entries) {
    if (!entry.enabled) continue;
    let queue = known.get(entry);
    if (queue === undefined) known.set(entry, (queue = queueOf(entry.task, entry.options, config)));
    if (queue === '') continue;
    const routed = out.get(queue);
    if (routed === undefined) out.set(queue, [entry]);
    else routed.push(entry);
  }
  return out;
}

function* inForce(config: ResolvedConfig, runtime: readonly ResolvedEntry[]): Iterable<ResolvedEntry> {
  yield* config.entries;
  yield* runtime;
}

/** The check as a leader task: started with each session, a fresh judgement each time (nothing carried from another leader). */
export function consumerCheckTask(options: ConsumerCheckOptions): LeaderTask {
  const { probe, events, logger: log } = options;
  let loop: PokedLoop | undefined;
  let watch: ConsumerWatch | undefined;
  let lastError: string | undefined;
  const look = async (): Promise<void> => {
    const config = options.config();
    const settings = consumerCheckOf(config);
    if (!settings.check) return;
    const used = scheduleQueues(config, inForce(config, options.runtimeEntries()));
    const current = (watch ??= new ConsumerWatch(settings.unconsumedAfterMs));
    try {
      const answer = await probe.look([...used.keys()], options.now(), settings.replyWindowMs);
      lastError = undefined;
      for (const change of current.observe(answer, options.now())) {
        if (change.kind === 'consumed') {
          log.info({ event: EVENTS.queueConsumed, queue: change.queue }, `queue ${change.queue} is consumed again`);
          events.queueConsumed?.(change.queue);
          continue;
        }
        const { queue, reason, sinceMs, depth } = change.queue;
        const routed = used.get(queue) ?? [];
        const entries = routed.length;
        log.warn(
          { event: EVENTS.queueUnconsumed, queue, reason, since: new Date(sinceMs).toISOString(), depth, entries },
          `${reason}: the runs of ${entries} entr${entries === 1 ? 'y' : 'ies'} routed to it wait unread; start a worker with -Q ${queue}, or fix the entries' queue`,
        );
        // The look's own walk of the entries goes with each queue: a sink that walked every entry per
        // flagged queue stalled the loop for tens of seconds when thousands were flagged at once.
        events.queueUnconsumed?.(change.queue, routed);
      }
    } catch (error) {
      const message = errorMessage(error);
      if (message === lastError) return;
      lastError = message;
      log.warn(
        { event: EVENTS.consumerCheckFailed, err: message },
        `cannot ask the broker who consumes the queues (${message}); asking again next time`,
      );
    }
  };
  return {
    start: () => {
      watch = undefined;
      // The first look after one interval: a session's start (its catch-up publishes) is not shared with it.
      loop = new PokedLoop({ intervalMs: consumerCheckOf(options.config()).everyMs, run: look, runAtStart: false, unref: true });
      loop.start();
    },
    stop: async () => {
      await loop?.stop();
      loop = undefined;
      // The flags stay written: the next leader empties the record as it begins and judges afresh.
      watch = undefined;
    },
  };
}
