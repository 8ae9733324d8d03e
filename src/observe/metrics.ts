/**
 * Prometheus metrics (prom-client), in a registry of our own so that tests and embedders do not
 * share global state. Every metric tsbeat exports is declared here, with its help text. The counters
 * count what the scheduler reports (`events`, a SchedulerEvents); the schedule's gauges read a
 * MetricsSource at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DEFAULTS } from '../base/defaults.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { OutcomeEvents } from '../ports/outcomes.js';

/**
 * Resolution of the event-loop lag metrics (nodejs_eventloop_lag_*). prom-client's 10 ms default
 * wakes the process 100 times a second: about half of an idle scheduler's CPU (bench: idle).
 * Lag that matters to a scheduler is milliseconds to seconds long and still shows at 100 ms.
 */
const EVENT_LOOP_MONITORING_MS = 100;

/** What the schedule gauges read at scrape time: the schedule the leader runs. */
export interface MetricsSource {
  entries(): { enabled: number; disabled: number; paused: number };
  /** Every entry's next fire: read while fewer than metricsMaxEntries entries have series. */
  nextFires(): Iterable<readonly [string, number | undefined]>;
  /** One entry's next fire (undefined: none, or not scheduled here). */
  nextFire(entry: string): number | undefined;
  /** One entry's labels (undefined: none, or not scheduled here): read only with `labelKeys`. */
  labels?(entry: string): Readonly<Record<string, string>> | undefined;
  /** Whether the deployment is stopped (`beat pause --all`), read from Redis at scrape time; undefined when it cannot be read. */
  deploymentStopped?(): Promise<boolean | undefined>;
  /** How many items the dead-letter list holds, read from Redis at scrape time; undefined when it cannot be read. */
  deadLetters?(): Promise<number | undefined>;
}

/** A label key of `metricsLabelKeys` and the Prometheus label it becomes (`team`, `label_team`). */
export type MetricLabelKey = readonly [key: string, metricLabel: string];

export class BeatMetrics {
  readonly registry = new Registry();

  readonly published = new Counter({
    name: 'tsbeat_messages_published_total',
    help: 'Task messages published, by entry, task and queue.',
    labelNames: ['entry', 'task', 'queue'] as const,
    registers: [this.registry],
  });

  /** Labelled children, cached: resolving labels on every publish costs more than the increment. */
  private readonly publishedByEntry = new Map<string, { inc(): void }>();

  /** Entries with series of their own, at most `maxEntries`; see admit(). */
  private readonly withSeries = new Set<string>();
  private maxEntries: number = DEFAULTS.metricsMaxEntries;

  readonly seriesLeftOut = new Counter({
    name: 'tsbeat_entry_series_left_out_total',
    help: 'Per-entry samples left out of /metrics because metricsMaxEntries entries already have series of their own.',
    registers: [this.registry],
  });

  /**
   * Whether `entry` may have series of its own: it has, or there is room (then it has from now).
   * A sample left out is counted, unless `count` is false (the next-fire gauge, rebuilt at each scrape).
   */
  private admit(entry: string, count = true): boolean {
    if (this.withSeries.has(entry)) return true;
    if (this.withSeries.size < this.maxEntries) {
      this.withSeries.add(entry);
      return true;
    }
    if (count) this.seriesLeftOut.inc();
    return false;
  }

  /** Removes every series of entries that left the schedule, making room for others. */
  async forget(entries: readonly string[]): Promise<void> {
    const gone = new Set(entries.filter((e) => this.withSeries.delete(e)));
    if (gone.size === 0) return;
    for (const key of [...this.publishedByEntry.keys()])
      if (gone.has(key.slice(0, key.indexOf('\u0000')))) this.publishedByEntry.delete(key);
    for (const metric of [
      this.published,
      this.missed,
      this.revokes,
      this.dropped,
      this.retryAttempts,
      this.retriesExhausted,
      this.runs,
      this.lastSuccess,
      this.lastFailure,
      this.failing,
    ] as const) {
      const { values } = await (metric as Counter<string>).get();
      for (const { labels } of values)
        if (typeof labels['entry'] === 'string' && gone.has(labels['entry'])) (metric as Counter<string>).remove(labels);
    }
    for (const entry of gone) this.runDuration.remove({ entry });
  }

  countPublished(entry: string, task: string, queue: string): void {
    const key = `${entry}\u0000${task}\u0000${queue}`;
    let child = this.publishedByEntry.get(key);
    if (child === undefined) {
      if (!this.admit(entry)) return;
      child = this.published.labels({ entry, task, queue });
      this.publishedByEntry.set(key, child);
    }
    child.inc();
  }

  readonly publishErrors = new Counter({
    name: 'tsbeat_publish_errors_total',
    help: 'Publish attempts that failed (broker or Redis unreachable, refused); the runs are retried.',
    registers: [this.registry],
  });

  readonly missed = new Counter({
    name: 'tsbeat_slots_missed_total',
    help: 'Due slots passed over that will never run, by entry and reason (catch_up_once, skip_late, outside_window, overlap, paused).',
    labelNames: ['entry', 'reason'] as const,
    registers: [this.registry],
  });
  readonly revokes = new Counter({
    name: 'tsbeat_revokes_total',
    help: 'Previous runs revoked by overlap cancelOther or terminateOther (Celery remote control), by entry, policy and outcome (sent, failed).',
    labelNames: ['entry', 'policy', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: 'tsbeat_messages_dropped_total',
    help: 'Messages that matched no queue (a named exchange without a matching binding).',
    labelNames: ['entry'] as const,
    registers: [this.registry],
  });

  readonly retryAttempts = new Counter({
    name: 'tsbeat_retry_attempts_total',
    help: "Later attempts of failed or lost runs published (retry: attempt 2 and on; the slot's own run is not one), by entry.",
    labelNames: ['entry'] as const,
    registers: [this.registry],
  });
  readonly retriesExhausted = new Counter({
    name: 'tsbeat_retries_exhausted_total',
    help: "Slots whose last attempt failed with none left under their entry's retry, by entry and how it ended (failure, lost).",
    labelNames: ['entry', 'end'] as const,
    registers: [this.registry],
  });

  readonly deadLettered = new Counter({
    name: 'tsbeat_dead_lettered_total',
    help: 'Slots that failed for good and went to the dead-letter list (issue 70), as this leader wrote them.',
    registers: [this.registry],
  });
  readonly deadLettersDropped = new Counter({
    name: 'tsbeat_dead_letters_dropped_total',
    help: "Dead letters dropped, the oldest first, by the list's bound (deadLetters.maxItems, deadLetters.maxBytes).",
    registers: [this.registry],
  });
  /** The list's size as this process last wrote it; read from Redis at scrape time when the source can. */
  private deadLetterSize: number | undefined;
  readonly deadLetters = new Gauge({
    name: 'tsbeat_dead_letters',
    help: "Items in the deployment's dead-letter list, read from Redis at each scrape (no sample when Redis cannot be read).",
    registers: [this.registry],
    collect: async () => {
      const size = (await this.source?.deadLetters?.()) ?? this.deadLetterSize;
      if (size === undefined) this.deadLetters.reset();
      else this.deadLetters.set(size);
    },
  });

  readonly lateness = new Histogram({
    name: 'tsbeat_fire_lateness_seconds',
    help: "Delay from a slot's scheduled instant to its publication.",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly leader = new Gauge({
    name: 'tsbeat_leader',
    help: '1 while this instance is the active scheduler, 0 while it stands by.',
    registers: [this.registry],
  });

  readonly lockRenewFailures = new Counter({
    name: 'tsbeat_lock_renew_failures_total',
    help: 'Failed renewals of the leader lock.',
    registers: [this.registry],
  });

  readonly stateLost = new Counter({
    name: 'tsbeat_state_lost_entries_total',
    help: 'Entries whose stored state was found missing or behind the runs this instance saw published (Redis lost data).',
    registers: [this.registry],
  });

  readonly refused = new Counter({
    name: 'tsbeat_runs_refused_total',
    help: "Runs refused because of their entry alone (its queue key holds another Redis type, its exchange does not exist…); the other entries' runs went on.",
    registers: [this.registry],
  });

  readonly failing = new Gauge({
    name: 'tsbeat_entry_failing',
    help: 'Entries whose runs are refused because of the entry alone (1 each while it fails; the series goes when it publishes again or is deleted); exported by the leader.',
    labelNames: ['entry'] as const,
    registers: [this.registry],
  });

  readonly unconsumed = new Gauge({
    name: 'tsbeat_queue_unconsumed',
    help: "Queues the schedule publishes to that nobody has consumed for consumers.unconsumedAfter (1 each while flagged; the series goes when it is consumed again), by queue; exported by the leader. Its queues are the entries' (at most metricsMaxEntries series).",
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });
  private readonly unconsumedQueues = new Set<string>();

  /** Read at scrape time by the gauges below (readScheduleFrom); until then they export nothing. */
  private source: MetricsSource | undefined;

  readonly entries = new Gauge({
    name: 'tsbeat_entries',
    help: 'Entries in the schedule, by state (enabled, disabled, paused).',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () => {
      const counts = this.source?.entries();
      if (!counts) return;
      for (const [state, n] of Object.entries(counts)) this.entries.set({ state }, n);
    },
  });

  readonly deploymentStopped = new Gauge({
    name: 'tsbeat_deployment_stopped',
    help: '1 while the deployment is stopped (beat pause --all: no replica publishes anything), else 0; exported by every replica, read from Redis at each scrape (no sample when Redis cannot be read).',
    registers: [this.registry],
    collect: async () => {
      const stopped = await this.source?.deploymentStopped?.();
      if (stopped === undefined) this.deploymentStopped.reset();
      else this.deploymentStopped.set(stopped ? 1 : 0);
    },
  });

  readonly nextFire = new Gauge({
    name: 'tsbeat_entry_next_fire_timestamp_seconds',
    help: 'When each entry is next due (Unix time, seconds); exported by the leader only.',
    labelNames: ['entry'] as const,
    registers: [this.registry],
    collect: () => {
      this.nextFire.reset();
      const source = this.source;
      if (source === undefined) return;
      // Once metricsMaxEntries entries have series no other can: theirs are asked for by name, so
      // that a scrape costs that many lookups rather than a walk of every entry (a million, each scrape).
      if (this.withSeries.size >= this.maxEntries) {
        for (const entry of this.withSeries) {
          const ms = source.nextFire(entry);
          if (ms !== undefined) this.nextFire.set({ entry }, ms / 1000);
        }
        return;
      }
      for (const [entry, ms] of source.nextFires())
        if (ms !== undefined && this.admit(entry, false)) this.nextFire.set({ entry }, ms / 1000);
    },
  });

  /**
   * `metricsLabelKeys`: each entry with series of its own, 1, labelled with the values of these
   * label keys (`label_team="billing"`, '' when it has none), so that a query can group or filter any
   * per-entry series by them (`* on (entry) group_left (label_team) tsbeat_entry_labels`), as
   * kube-state-metrics' kube_pod_labels does. None without the setting (made only then).
   */
  private entryLabels: Gauge<string> | undefined;

  private makeEntryLabels(labelKeys: readonly MetricLabelKey[]): void {
    const keys = labelKeys.map(([key]) => key);
    const names = labelKeys.map(([, name]) => name);
    const gauge: Gauge<string> = new Gauge({
      name: 'tsbeat_entry_labels',
      help: "Each entry's labels named by metricsLabelKeys (label_<key>, '' when it has none), 1 per entry with series of its own; exported by the leader only.",
      labelNames: ['entry', ...names],
      registers: [this.registry],
      collect: () => {
        gauge.reset();
        const source = this.source;
        if (source?.labels === undefined) return;
        const set = (entry: string): void => {
          const labels = source.labels?.(entry);
          if (labels === undefined) return;
          const values: Record<string, string> = { entry };
          keys.forEach((key, i) => (values[names[i] ?? key] = labels[key] ?? ''));
          gauge.set(values, 1);
        };
        if (this.withSeries.size >= this.maxEntries) {
          for (const entry of this.withSeries) set(entry);
          return;
        }
        for (const [entry] of source.nextFires()) if (this.admit(entry, false)) set(entry);
      },
    });
    this.entryLabels = gauge;
  }

  /**
   * What the scheduler reports, counted: the sink to hand to the parts that report (the leader's
   * session, the metered publishers, the leadership). Plain functions, so that a caller may wrap some.
   */
  readonly events: SchedulerEvents = {
    published: (run, latenessMs) => {
      this.countPublished(run.entry.name, run.entry.task, run.destination.declareQueue ?? run.destination.routingKey);
      this.lateness.observe(latenessMs / 1000);
    },
    triggerPublished: (message) =>
      this.countPublished(message.entry, message.task, message.destination.declareQueue ?? message.destination.routingKey),
    retryPublished: (message) => {
      this.countPublished(message.entry, message.task, message.destination.declareQueue ?? message.destination.routingKey);
      if (this.admit(message.entry)) this.retryAttempts.inc({ entry: message.entry });
    },
    missed: ({ entry, count, reason }) => {
      if (this.admit(entry.name)) this.missed.inc({ entry: entry.name, reason }, count);
    },
    dropped: (entry) => {
      if (this.admit(entry)) this.dropped.inc({ entry });
    },
    publishFailed: () => this.publishErrors.inc(),
    stateLost: (entries) => this.stateLost.inc(entries.length),
    lockRenewFailed: () => this.lockRenewFailures.inc(),
    leadershipChanged: (leading) => {
      this.leader.set(leading ? 1 : 0);
      if (leading) return;
      this.failing.reset();
      this.unconsumed.reset();
      this.unconsumedQueues.clear();
    },
    entryRefused: (failure) => {
      this.refused.inc();
      if (this.admit(failure.entry)) this.failing.set({ entry: failure.entry }, 1);
    },
    entryFailureCleared: (entry) => this.failing.remove({ entry }),
    entriesRemoved: (entries) => void this.forget(entries),
    revoked: ({ entry, policy, outcome }) => {
      if (this.admit(entry)) this.revokes.inc({ entry, policy, outcome });
    },
    queueUnconsumed: ({ queue }) => {
      if (!this.unconsumedQueues.has(queue) && this.unconsumedQueues.size >= this.maxEntries) return this.seriesLeftOut.inc();
      this.unconsumedQueues.add(queue);
      this.unconsumed.set({ queue }, 1);
    },
    queueConsumed: (queue) => {
      if (this.unconsumedQueues.delete(queue)) this.unconsumed.remove({ queue });
    },
  };

  // Run outcomes (with a resultBackend or taskEvents): counted by the leader as each run reaches a final state.
  readonly runs = new Counter({
    name: 'tsbeat_runs_total',
    help: 'Runs that reached a final state, by entry and state (SUCCESS, FAILURE, REVOKED, unknown); counted by the leader that saw it.',
    labelNames: ['entry', 'state'] as const,
    registers: [this.registry],
  });

  readonly runDuration = new Histogram({
    name: 'tsbeat_run_duration_seconds',
    help: "How long finished runs took, from publication (queue time included) to the result's date_done.",
    labelNames: ['entry'] as const,
    buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400],
    registers: [this.registry],
  });

  readonly lastSuccess = new Gauge({
    name: 'tsbeat_entry_last_success_timestamp_seconds',
    help: "When each entry's last successful run finished (Unix time, seconds), as this leader saw it.",
    labelNames: ['entry'] as const,
    registers: [this.registry],
  });

  readonly lastFailure = new Gauge({
    name: 'tsbeat_entry_last_failure_timestamp_seconds',
    help: "When each entry's last failed run finished (Unix time, seconds), as this leader saw it.",
    labelNames: ['entry'] as const,
    registers: [this.registry],
  });

  /** Run outcomes, counted: the sink for the outcome tracker. */
  readonly outcomes: OutcomeEvents = {
    finished: (entry, record) => {
      if (!this.admit(entry)) return;
      this.runs.inc({ entry, state: record.state });
      if (record.runtimeMs !== undefined && record.state !== 'unknown') this.runDuration.observe({ entry }, record.runtimeMs / 1000);
      const at = (record.finishedAtMs ?? 0) / 1000;
      if (record.state === 'SUCCESS') this.lastSuccess.set({ entry }, at);
      else if (record.state === 'FAILURE') this.lastFailure.set({ entry }, at);
    },
    retriesExhausted: (entry, _record, end) => {
      if (this.admit(entry)) this.retriesExhausted.inc({ entry, end });
    },
    deadLettered: () => this.deadLettered.inc(),
    deadLettersBounded: (dropped, size) => {
      this.deadLettersDropped.inc(dropped);
      this.deadLetterSize = size;
    },
  };

  /**
   * Called once, while wiring: the schedule gauges (tsbeat_entries, tsbeat_entry_next_fire_*) read
   * `source` at scrape time. It is not a constructor option because the source (the service's
   * supervisor) is built from parts that report to `events`.
   */
  readScheduleFrom(source: MetricsSource): void {
    this.source = source;
  }

  constructor(
    options: { processMetrics?: boolean; maxEntries?: number | undefined; labelKeys?: readonly MetricLabelKey[] | undefined } = {},
  ) {
    this.maxEntries = options.maxEntries ?? DEFAULTS.metricsMaxEntries;
    if (options.labelKeys !== undefined && options.labelKeys.length > 0) this.makeEntryLabels(options.labelKeys);
    // Under their standard names (process_cpu_seconds_total, process_start_time_seconds,
    // nodejs_heap_size_used_bytes, …), as every Prometheus client library exports them: generic
    // dashboards and restart/memory alerts look for these names. A `tsbeat_` prefix hid them.
    if (options.processMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_MS });
  }
}
