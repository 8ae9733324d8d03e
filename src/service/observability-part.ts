/**
 * What the process tells about its runs: metrics (with an HTTP endpoint only), tracing (with an
 * OTLP endpoint only), alerts, Sentry check-ins and django's write-back. The deployment's runtime
 * (deployment-runtime.ts) adds its own records (failing entries, missed and passed-over slots, run
 * outcomes) to these sinks, and its outcome tracker reports here.
 */
import { metricLabelName } from '../config/labels-schema.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { followsOutcomes } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { BeatMetrics } from '../observe/metrics.js';
import type { Clock } from '../ports/clock.js';
import type { SchedulerEvents } from '../ports/events.js';
import { NO_OUTCOME_EVENTS } from '../ports/outcomes.js';
import type { OutcomeEvents } from '../ports/outcomes.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { FailurePausing } from '../redis/run-history-store.js';
import type { EntryCatalog } from '../runtime/entry-catalog.js';
import { startAlerts } from './alerts-part.js';
import type { Connections } from './connections.js';
import { writeBackSink } from './django-write-back.js';
import { entryNamedIn } from './in-force-view.js';
import type { InForce } from './in-force-view.js';
import { startSentryCheckIns } from './sentry.js';
import type { LeaderTask } from './supervisor.js';
import { startTracing } from './tracing.js';
import type { Tracing } from './tracing.js';

export interface Observability {
  readonly metrics: BeatMetrics | undefined;
  readonly tracing: Tracing | undefined;
  /** The process's sinks of scheduler events, in the order they hear them; the runtime adds its own after them. */
  readonly sinks: readonly SchedulerEvents[];
  /** Wraps the runtime's sink (RedBeat's write-back and lock listening in). */
  readonly around: (inner: SchedulerEvents) => SchedulerEvents;
  /** The leader's work besides scheduling and following outcomes (sending alerts and check-ins). */
  readonly leaderTasks: readonly LeaderTask[];
  /** Where the outcome tracker reports finished runs. */
  readonly outcomeEvents: OutcomeEvents;
  /** What the run history asks before it pauses an entry on failure, and tells once it has. */
  readonly pausing: FailurePausing;
}

export async function startObservability(options: {
  config: ResolvedConfig;
  keys: SchedulerKeys;
  logger: Logger;
  clock: Clock;
  instanceId: string;
  /** Metrics only when there is an endpoint to read them from. */
  withMetrics: boolean;
  connections: Connections;
  catalog: EntryCatalog;
  inForce: InForce;
}): Promise<Observability> {
  const { config, keys, logger: log, clock, instanceId, inForce, catalog } = options;
  const { state, redbeat, django } = options.connections;
  // Without --http nobody can read metrics: then prom-client is not even loaded (~30 ms and ~2 MB of
  // every start), and no sampler of process metrics (CPU, heap, event-loop lag every 100 ms) wakes
  // the process 10 times a second.
  const metrics = options.withMetrics
    ? new (await import('../observe/metrics.js')).BeatMetrics({
        maxEntries: config.metricsMaxEntries,
        labelKeys: config.metricsLabelKeys?.map((key) => [key, metricLabelName(key)] as const),
      })
    : undefined;
  // A span per published run over OTLP, only with OTEL_EXPORTER_OTLP_ENDPOINT set (else nothing of
  // OpenTelemetry is loaded).
  const tracing = await startTracing({ env: process.env, logger: log, now: () => clock.now(), instanceId, deployment: config.name });
  const entryNamed = entryNamedIn(inForce, catalog);
  const alerts = startAlerts({
    config,
    current: () => inForce.config(),
    client: state,
    keys,
    logger: log,
    now: () => clock.now(),
    entries: () => [...inForce.config().entries, ...catalog.entries()],
    states: inForce.states,
    entryNamed,
    ...(followsOutcomes(config) ? { unfinished: () => inForce.unfinished() } : {}),
  });
  const sentry = startSentryCheckIns(config, log, () => clock.now());
  const sinks = [
    ...(metrics ? [metrics.events] : []),
    alerts.events,
    ...(sentry ? [sentry.events] : []),
    ...writeBackSink(django),
    ...(tracing ? [tracing.events] : []),
  ];
  return {
    metrics,
    tracing,
    sinks,
    around: (inner) => redbeat?.events(inner) ?? inner,
    leaderTasks: [alerts.sender, ...(sentry ? [sentry.sender] : [])],
    outcomeEvents: {
      finished: (entry, record) => {
        (metrics?.outcomes ?? NO_OUTCOME_EVENTS).finished(entry, record);
        alerts.outcomeEvents.finished(entry, record);
      },
      retriesExhausted: (entry, record, end) => metrics?.outcomes.retriesExhausted?.(entry, record, end),
      deadLettered: (entry, record, letter) => {
        log.warn(
          { event: EVENTS.deadLettered, entry, id: letter.id, taskId: letter.taskId, attempts: letter.attempts, end: letter.end },
          `${entry}: its slot ${new Date(letter.slotMs).toISOString()} failed for good (${letter.end}, ${letter.attempts} attempt${letter.attempts === 1 ? '' : 's'}) and went to the dead-letter list as ${letter.id}; beat dead-letter replay ${letter.id} runs it again`,
        );
        metrics?.outcomes.deadLettered?.(entry, record, letter);
        alerts.deadLettered(letter);
      },
      deadLettersBounded: (dropped, size) => {
        if (dropped > 0)
          log.warn(
            { event: EVENTS.deadLettered, dropped, size },
            `the dead-letter list's bound (deadLetters.maxItems, deadLetters.maxBytes) dropped its ${dropped} oldest item${dropped === 1 ? '' : 's'}`,
          );
        metrics?.outcomes.deadLettersBounded?.(dropped, size);
      },
    },
    pausing: {
      pauseAfter: (name) => entryNamed(name)?.pauseOnFailure,
      paused: (entry, record) => {
        log.warn(
          { event: EVENTS.pausedOnFailure, entry, id: record.taskId, exception: record.exception },
          `paused ${entry}: ${String(entryNamed(entry)?.pauseOnFailure)} failed runs in a row (pauseOnFailure); beat resume ${entry} starts it again`,
        );
        alerts.pausedOnFailure(entry, record);
      },
    },
  };
}
