/**
 * Parsed config → resolved config: every entry gets its effective time zone and a complete
 * `Schedule`. Pure and infallible: everything that can be wrong was reported by the schema.
 */
import { DEFAULTS } from '../base/defaults.js';
import type { FireWindow } from '../core/schedule.js';
import type { Schedule } from '../core/types.js';
import type { Labels } from '../core/labels.js';
import { parseIsoDateTime } from '../time/zone.js';
import { renewalPeriodMs } from '../base/renewer.js';
import type { CatchUpPolicy, OverlapPolicy, ParsedConfig, ParsedEntry, QueueType } from './schema.js';
import { resolveSchedule } from './entry-schedule.js';
import type { ExchangeType } from './options-schema.js';
import { compileRoutes } from './task-routes.js';
import { isSignature } from './canvas-schema.js';
import type { CanvasParts, ParsedMember, ParsedStep } from './canvas-schema.js';
import type { DjangoSourceSettings } from './django-source-schema.js';
import type { EntryLimits } from './entry-definition.js';
import { resolveAlerts } from './alerts-schema.js';
import type { ParsedAlerts, ResolvedAlerts } from './alerts-schema.js';
import type { CompiledRoute } from './task-routes.js';
import { resolveSentryMonitor } from './sentry-schema.js';
import { resolveOidc } from './oidc-schema.js';
import type { OidcSettings } from './oidc-schema.js';
import { resolveExclusions } from './exclude-schema.js';
import type { CalendarDrafts } from './exclude-schema.js';
import type { Exclusions } from '../core/exclusions.js';
import type { ResolvedSentryMonitor, SentrySettings } from './sentry-schema.js';
import { resolveRetry } from './retry-schema.js';
import type { Concurrency } from './concurrency.js';
import type { RetryPolicy } from '../core/retry.js';

/** Where an entry comes from: the config file, or a runtime source (src/ports/entry-source.ts). */
export type EntryOrigin = 'file' | 'store' | 'redbeat' | 'django';

export interface ResolvedEntry {
  readonly name: string;
  /** Where it comes from; undefined = the config file. */
  readonly origin?: EntryOrigin;
  /** The task of its run's (first) message: its `task`, or its chain's first signature's. */
  readonly task: string;
  /** Its run as a canvas (docs/canvas.md): its chain and callbacks; undefined for a plain task (the usual). */
  readonly canvas?: CanvasParts;
  readonly schedule: Schedule;
  /** The zone the entry's wall times are read in: its own `timezone`, else the config's. */
  readonly timezone: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly options: ParsedEntry['options'];
  readonly enabled: boolean;
  readonly catchUp: CatchUpPolicy;
  /** Missed slots older than this many ms are dropped; undefined = no limit. */
  readonly catchUpWindowMs: number | undefined;
  /** Upper bound of the per-run delay, ms (0 = none). */
  readonly jitterMs: number;
  /** The tool that owns a runtime entry (`owner`, written by `beat apply`); undefined for one made by hand and the config file's. */
  readonly owner?: string;
  /** A slot due while the previous run has not finished: published, passed over, or kept for later (see schema.ts). */
  readonly overlap: OverlapPolicy;
  /** A previous run published longer ago than this (ms) counts as lost; undefined = until its outcome is known. */
  readonly overlapTimeoutMs?: number | undefined;
  /** Overlap "bufferAll": slots kept at most (DEFAULTS.overlapBuffer unless set). */
  readonly overlapBuffer?: number;
  /** Overlap "terminateOther": the signal the previous run's process is sent (DEFAULTS.overlapSignal unless set). */
  readonly overlapSignal?: string;
  /** Where its alerts and pings go, the config's and its own settings merged; undefined = none. */
  readonly alerts?: ResolvedAlerts;
  /** No slot before this instant (epoch ms; a slot at it runs); undefined = no bound. */
  readonly startAtMs?: number | undefined;
  /** No slot at or after this instant (epoch ms); undefined = no bound. */
  readonly endAtMs?: number | undefined;
  /** The entry finishes after this many scheduled runs (`oneOff` is 1); undefined = no limit. */
  readonly maxRuns?: number | undefined;
  /** Failed runs in a row after which the entry is paused; undefined = never. */
  readonly pauseOnFailure?: number;
  /** Its own retry policy (false: the config's is off for it); undefined: the config's. Read through retryPolicyOf. */
  readonly retry?: RetryPolicy | false;
  /** Its own deadLetter; undefined: the config's. Read through deadLettersOf. */
  readonly deadLetter?: boolean;
  /** The concurrency group it runs in (concurrency.ts); undefined = none. */
  readonly concurrency?: Concurrency;
  /** Its `exclude`, calendars expanded, in its zone: slots there do not exist; undefined = none. */
  readonly exclude?: Exclusions;
  /** Its Sentry Crons monitor (`monitor.sentry`): its runs carry the check-in headers; undefined = none. */
  readonly sentry?: ResolvedSentryMonitor;
  /**
   * Its labels (`labels`); RedBeat's and django's entries carry `source: redbeat` / `source: django`
   * (their sources have no labels of their own). Undefined: none.
   */
  readonly labels?: Labels;
  /** A runtime entry's incarnation (ports/entry-source.ts SourcedEntry); undefined for the config file's. */
  readonly incarnation?: string;
  /**
   * A runtime entry's revision (ports/entry-source.ts SourcedEntry): the publish scripts refuse its run
   * when the stored one is another (edited, deleted or re-created since); RedBeat's and django's
   * are '@' + incarnation (ports/entry-source.ts incarnationRevision), checked against the incarnation
   * their stored state belongs to. Undefined: not checked (the config file's entries).
   */
  readonly revision?: string;
}

/** An entry's `startAt`/`endAt` as the schedule maths takes them; undefined when it has neither. */
export function entryWindow(entry: ResolvedEntry): FireWindow | undefined {
  if (entry.exclude !== undefined) return { startMs: entry.startAtMs, endMs: entry.endAtMs, exclude: entry.exclude };
  return entry.startAtMs === undefined && entry.endAtMs === undefined ? undefined : { startMs: entry.startAtMs, endMs: entry.endAtMs };
}

export interface LockSettings {
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  readonly retryEveryMs: number;
  /** Redis URLs of a Redlock quorum; empty = the state Redis alone. */
  readonly urls: readonly string[];
  /** Farthest the local clock may be from the state Redis's to lead; and a slot ahead of Redis's clock to be published. */
  readonly maxClockSkewMs: number;
}

export interface ResolvedConfig {
  /** Deployment name: replicas with the same name share state and elect one leader. */
  readonly name: string;
  readonly timezone: string;
  readonly entries: readonly ResolvedEntry[];
  readonly broker: ParsedConfig['broker'];
  readonly taskDefaultQueue: string;
  readonly taskRoutes: readonly CompiledRoute[];
  readonly taskProtocol: 1 | 2;
  /** RabbitMQ queue declaration (Celery's task_queue_max_priority, task_default_queue_type, task_create_missing_queue_type). */
  readonly taskQueueMaxPriority: number | undefined;
  readonly taskDefaultQueueType: QueueType;
  readonly taskCreateMissingQueueType: QueueType;
  /** The type of a declared queue's own exchange (Celery's task_default_exchange_type, task_create_missing_queue_exchange_type). */
  readonly taskDefaultExchangeType: ExchangeType;
  readonly taskCreateMissingQueueExchangeType: ExchangeType;
  readonly maxIntervalMs: number;
  readonly lock: LockSettings;
  /** Redis for state and lock as configured; undefined = the broker's Redis (or, for AMQP, the local default). */
  readonly state: { readonly url: string | undefined; readonly prefix: string };
  /** The config's named calendars of exclusions, for runtime entries resolved later. */
  readonly calendars: CalendarDrafts;
  /** The config's own alert settings, for runtime entries resolved later (their own override them). */
  readonly alerts: ParsedAlerts | undefined;
  /** `alerts.allowedHosts`: where runtime entries' alert URLs may go (absent: public hosts only). */
  readonly alertsAllowedHosts?: readonly string[] | undefined;
  /** Other sources of runtime entries: RedBeat's keys (url undefined = the broker's Redis), django-celery-beat's tables. */
  readonly sources: {
    readonly redbeat?: { readonly url: string | undefined; readonly keyPrefix: string; readonly lockKey: string | undefined };
    readonly django?: DjangoSourceSettings;
  };
  /** Celery's result backend, read for run outcomes; undefined = none (no outcomes). */
  readonly resultBackend: { readonly url: string; readonly transportOptions: ParsedConfig['resultBackendTransportOptions'] } | undefined;
  /**
   * Listen to Celery's task events on the broker for run outcomes (with or without a result
   * backend); undefined: not set, then read by default when there is no result backend (see
   * readsTaskEvents).
   */
  readonly taskEvents: boolean | undefined;
  readonly outcomeTimeoutMs: number;
  /** Every entry's retry policy unless it sets its own (retryPolicyOf); undefined: none. */
  readonly retry?: RetryPolicy;
  /** Every entry's deadLetter unless it sets its own (deadLettersOf); undefined: true with a retry policy, false without. */
  readonly deadLetter?: boolean;
  /** The dead-letter list's bound (absent: DEFAULTS.deadLettersMaxItems and deadLettersMaxBytes). */
  readonly deadLetters?: { readonly maxItems: number; readonly maxBytes: number };
  /** The leader's check for queues nobody consumes (absent: on, with the defaults). */
  readonly consumers?: ConsumerCheckSettings;
  /** How deep and large runtime entries' args and kwargs may be (absent: the defaults). */
  readonly entryLimits?: EntryLimits;
  /** How many events the audit trail keeps (absent: DEFAULTS.auditMaxEvents). */
  readonly auditMaxEvents?: number;
  /** Where Sentry check-ins go (the DSN from `sentry.dsn` or $SENTRY_DSN); undefined = no DSN, none sent. */
  readonly sentry?: SentrySettings | undefined;
  /** The dashboard's single sign-on (`auth.oidc`); undefined: API tokens only. */
  readonly oidc?: OidcSettings | undefined;
  /** More runs than this starting in one second is what `beat check` warns of (undefined: DEFAULTS.loadWarnAt). */
  readonly loadWarnAt?: number | undefined;
  /** Most entries with series of their own in /metrics (undefined: DEFAULTS.metricsMaxEntries). */
  readonly metricsMaxEntries?: number | undefined;
  /** Label keys that label each entry's tsbeat_entry_labels series (`metricsLabelKeys`); undefined: none. */
  readonly metricsLabelKeys?: readonly string[] | undefined;
  /**
   * The config's entries as their author wrote them (before defaults and resolving), and the file
   * they were read from: what the dashboard shows as an entry's definition. Set by parseConfig, with
   * the calendars as written (what `beat plan --config` compares, control/deployment-definition.ts).
   */
  readonly written?:
    { readonly source: string; readonly beatSchedule: Readonly<Record<string, unknown>>; readonly calendars?: unknown } | undefined;
}

/** `consumers`: whether the leader looks for queues nobody consumes, how often, and after how long it flags one. */
export interface ConsumerCheckSettings {
  readonly check: boolean;
  readonly everyMs: number;
  readonly unconsumedAfterMs: number;
  readonly replyWindowMs: number;
}

/** Each config's entries by name, made at the first look (a config is never changed: a reload makes another). */
const entriesByName = new WeakMap<ResolvedConfig, ReadonlyMap<string, ResolvedEntry>>();

/**
 * The config file's entry of this name. Asked for each run a burst records (its retry policy, its
 * dead letter, its history): a scan of the entries for each, 100,000 of them, held the loop for
 * minutes after a burst of 100,000 (bench/peer-bursts.mjs), so it is a look-up in an index.
 */
export function configEntryNamed(config: Pick<ResolvedConfig, 'entries'>, name: string): ResolvedEntry | undefined {
  let index = entriesByName.get(config as ResolvedConfig);
  if (index === undefined) {
    const made = new Map<string, ResolvedEntry>();
    // The first of a name, as a scan would find it.
    for (const entry of config.entries) if (!made.has(entry.name)) made.set(entry.name, entry);
    entriesByName.set(config as ResolvedConfig, (index = made));
  }
  return index.get(name);
}

/** The consumer check settings of `config`, the defaults where it has none. */
export function consumerCheckOf(config: Pick<ResolvedConfig, 'consumers'>): ConsumerCheckSettings {
  return (
    config.consumers ?? {
      check: true,
      everyMs: DEFAULTS.consumerCheckEveryMs,
      unconsumedAfterMs: DEFAULTS.unconsumedAfterMs,
      replyWindowMs: DEFAULTS.consumerReplyWindowMs,
    }
  );
}

/**
 * Whether the config counts on run outcomes (a result backend, `taskEvents: true`, or both): what
 * overlap policies, pauseOnFailure, `failed`/`late` alerts and outcome pings need.
 */
export function followsOutcomes(config: Pick<ResolvedConfig, 'resultBackend' | 'taskEvents'>): boolean {
  return config.resultBackend !== undefined || config.taskEvents === true;
}

/**
 * What the deployment gives every entry it resolves: the zone of an entry that names none, and its
 * name (the config's `name`), which with the entry's own seeds the entry's hashed times (`H`, `spread`).
 */
export interface EntryScope {
  readonly zone: string;
  readonly deployment: string;
}

/** The scope a config gives its entries: its `timezone` and its `name`. */
export function entryScopeOf(config: { readonly timezone: string; readonly name: string }): EntryScope {
  return { zone: config.timezone, deployment: config.name };
}

/** What a runtime source tells of an entry besides its definition (ports/entry-source.ts SourcedEntry). */
export interface EntryFence {
  readonly incarnation?: string | undefined;
  readonly revision?: string | undefined;
}

/** The source label RedBeat's and django's entries carry, so that a selector can pick them (`source=django`). */
const SOURCE_LABELS: Readonly<Partial<Record<EntryOrigin, Labels>>> = {
  redbeat: Object.freeze({ source: 'redbeat' }),
  django: Object.freeze({ source: 'django' }),
};

/** An entry's labels: its own, and for RedBeat's and django's entries their source (over any own `source`). */
function labelsOf(entry: ParsedEntry, origin: EntryOrigin | undefined): Labels | undefined {
  const source = origin === undefined ? undefined : SOURCE_LABELS[origin];
  if (source === undefined) return entry.labels;
  return entry.labels === undefined ? source : { ...entry.labels, ...source };
}

/** A canvas's first task: its chain's first signature's, or its group's or chord header's first member's (the chain's first step's too). */
function firstTask(entry: ParsedEntry): string {
  const step: ParsedStep | undefined = entry.chain?.[0];
  const inStep = step === undefined || isSignature(step) ? undefined : 'group' in step ? step.group[0] : step.chord.header[0];
  const first: ParsedStep | ParsedMember | undefined = inStep ?? entry.chain?.[0] ?? entry.group?.[0] ?? entry.chord?.header[0];
  if (first === undefined) return '';
  if (isSignature(first)) return first.task;
  return 'chain' in first ? (first.chain[0]?.task ?? '') : '';
}

/** One validated entry, its wall times read in its own zone or else `defaultZone` (the config's). */
export function resolveEntry(
  name: string,
  entry: ParsedEntry,
  scope: EntryScope,
  origin?: EntryOrigin,
  configAlerts?: ParsedAlerts,
  calendars?: CalendarDrafts,
  fence: EntryFence = {},
): ResolvedEntry {
  const timezone = entry.timezone ?? scope.zone;
  const exclude = resolveExclusions(entry.exclude, timezone, calendars);
  const alerts = resolveAlerts(configAlerts, entry.alerts);
  const schedule = resolveSchedule(entry.schedule, entry, timezone, { deployment: scope.deployment, name });
  const sentry = entry.monitor === undefined ? undefined : resolveSentryMonitor(name, entry.monitor, schedule, timezone);
  const labels = labelsOf(entry, origin);
  return {
    name,
    ...(origin === undefined ? {} : { origin }),
    task: entry.task ?? firstTask(entry),
    ...(entry.chain === undefined &&
    entry.group === undefined &&
    entry.chord === undefined &&
    entry.link === undefined &&
    entry.linkError === undefined
      ? {}
      : {
          canvas: {
            chain: entry.chain,
            link: entry.link,
            linkError: entry.linkError,
            ...(entry.group === undefined ? {} : { group: entry.group }),
            ...(entry.chord === undefined ? {} : { chord: entry.chord }),
          },
        }),
    schedule,
    timezone,
    args: entry.args,
    kwargs: entry.kwargs,
    options: entry.options,
    enabled: entry.enabled,
    catchUp: entry.catchUp,
    catchUpWindowMs: entry.catchUpWindow,
    jitterMs: entry.jitter ?? 0,
    ...(entry.owner === undefined ? {} : { owner: entry.owner }),
    overlap: entry.overlap,
    ...(entry.overlapTimeout === undefined ? {} : { overlapTimeoutMs: entry.overlapTimeout }),
    ...(entry.overlapBuffer === undefined ? {} : { overlapBuffer: entry.overlapBuffer }),
    ...(entry.overlapSignal === undefined ? {} : { overlapSignal: entry.overlapSignal }),
    ...(alerts === undefined ? {} : { alerts }),
    // Without an offset, a wall time in the entry's zone, as for clocked schedules (the schema checked the text).
    startAtMs: entry.startAt === undefined ? undefined : parseIsoDateTime(entry.startAt, timezone),
    endAtMs: entry.endAt === undefined ? undefined : parseIsoDateTime(entry.endAt, timezone),
    maxRuns: entry.maxRuns ?? (entry.oneOff === true ? 1 : undefined),
    ...(sentry === undefined ? {} : { sentry }),
    ...(exclude === undefined ? {} : { exclude }),
    ...(entry.pauseOnFailure === undefined ? {} : { pauseOnFailure: entry.pauseOnFailure }),
    ...(entry.retry === undefined ? {} : { retry: entry.retry === false ? false : resolveRetry(entry.retry) }),
    ...(entry.deadLetter === undefined ? {} : { deadLetter: entry.deadLetter }),
    ...(entry.concurrency === undefined ? {} : { concurrency: entry.concurrency }),
    ...(labels === undefined ? {} : { labels }),
    // In this literal, not spread onto its result: V8 gives an object spread and then extended a hidden class of its own.
    ...(fence.incarnation === undefined ? {} : { incarnation: fence.incarnation }),
    ...(fence.revision === undefined ? {} : { revision: fence.revision }),
  };
}

export function resolveConfig(parsed: ParsedConfig): ResolvedConfig {
  const entries = Object.entries(parsed.beatSchedule).map(([name, entry]) =>
    resolveEntry(name, entry, { zone: parsed.timezone, deployment: parsed.name }, undefined, parsed.alerts, parsed.calendars),
  );
  return {
    name: parsed.name,
    timezone: parsed.timezone,
    entries,
    broker: parsed.broker,
    taskDefaultQueue: parsed.taskDefaultQueue,
    taskRoutes: compileRoutes(parsed.taskRoutes),
    taskProtocol: parsed.taskProtocol,
    taskQueueMaxPriority: parsed.taskQueueMaxPriority,
    taskDefaultQueueType: parsed.taskDefaultQueueType,
    taskCreateMissingQueueType: parsed.taskCreateMissingQueueType,
    taskDefaultExchangeType: parsed.taskDefaultExchangeType,
    taskCreateMissingQueueExchangeType: parsed.taskCreateMissingQueueExchangeType,
    maxIntervalMs: parsed.maxInterval,
    ...(parsed.metricsMaxEntries === undefined ? {} : { metricsMaxEntries: parsed.metricsMaxEntries }),
    ...(parsed.loadWarnAt === undefined ? {} : { loadWarnAt: parsed.loadWarnAt }),
    ...(parsed.auth?.oidc === undefined ? {} : { oidc: resolveOidc(parsed.auth) }),
    ...(parsed.metricsLabelKeys === undefined || parsed.metricsLabelKeys.length === 0 ? {} : { metricsLabelKeys: parsed.metricsLabelKeys }),
    lock: {
      ttlMs: parsed.lock.ttl,
      renewEveryMs: parsed.lock.renewEvery ?? renewalPeriodMs(parsed.lock.ttl),
      retryEveryMs: parsed.lock.retryEvery,
      urls: parsed.lock.urls ?? [],
      maxClockSkewMs: parsed.lock.maxClockSkew,
    },
    state: {
      url: parsed.state.url,
      prefix: parsed.state.prefix,
    },
    calendars: parsed.calendars,
    alerts: parsed.alerts,
    alertsAllowedHosts: parsed.alerts?.allowedHosts,
    sources: {
      ...(parsed.sources.redbeat === undefined
        ? {}
        : {
            redbeat: {
              url: parsed.sources.redbeat.url,
              keyPrefix: parsed.sources.redbeat.keyPrefix,
              lockKey: parsed.sources.redbeat.lockKey,
            },
          }),
      ...(parsed.sources.django === undefined ? {} : { django: parsed.sources.django }),
    },
    resultBackend:
      parsed.resultBackend === undefined
        ? undefined
        : { url: parsed.resultBackend, transportOptions: parsed.resultBackendTransportOptions },
    taskEvents: parsed.taskEvents,
    outcomeTimeoutMs: parsed.outcomeTimeout,
    ...(parsed.retry === undefined ? {} : { retry: resolveRetry(parsed.retry) }),
    ...(parsed.deadLetter === undefined ? {} : { deadLetter: parsed.deadLetter }),
    deadLetters: { ...parsed.deadLetters },
    consumers: {
      check: parsed.consumers.check,
      everyMs: parsed.consumers.every,
      unconsumedAfterMs: parsed.consumers.unconsumedAfter,
      replyWindowMs: parsed.consumers.replyWindow,
    },
    entryLimits: { ...parsed.entryLimits },
    auditMaxEvents: parsed.audit.maxEvents,
  };
}
