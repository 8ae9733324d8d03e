/**
 * Which deliveries an event makes, for an entry's alert settings: pure, time is an argument. A
 * delivery's id names what it is about (kind, entry, slot, target), so that the same event found
 * by two leaders is one delivery.
 *
 * Webhook body (JSON): {id, kind, deployment, entry, task, slot, taskId?, state?, failedPart?, reason, count?, at};
 * `failedPart` ({path, task, id, exception?}) names the task a canvas run failed in.
 * Pings follow healthchecks.io: `<url>/start` when a run is published (when outcomes are known;
 * else `<url>` then: the publish is the success), `<url>` when it succeeds, `<url>/fail` when it
 * fails or slots are missed; the body is a line saying why.
 */
import type { AlertKind, ResolvedAlerts } from '../config/alerts-schema.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { Delivery } from '../ports/alerts.js';
import type { DeploymentStopChange, MissedSlots } from '../ports/events.js';
import type { DeadLetter } from '../ports/outcomes.js';
import type { UnconsumedQueue } from '../ports/consumers.js';

export interface AlertFacts {
  readonly deployment: string;
  readonly entry: ResolvedEntry;
  readonly kind: AlertKind;
  readonly slotMs: number;
  readonly reason: string;
  readonly atMs: number;
  readonly taskId?: string;
  readonly state?: string;
  readonly count?: number;
  /** The part of a canvas run that failed (the run's first failed part, as its exception names it). */
  readonly failedPart?: FailedPart;
}

/** A canvas run's failing task, as a failed alert names it. */
export interface FailedPart {
  readonly path: string;
  readonly task: string;
  readonly id: string;
  readonly exception?: string;
}

const JSON_TYPE = 'application/json';
const TEXT_TYPE = 'text/plain; charset=utf-8';

/** `url` with `suffix` appended to its path (before any query), as healthchecks.io's /start and /fail. */
export function pingUrl(url: string, suffix: '' | '/start' | '/fail'): string {
  if (suffix === '') return url;
  const parsed = new URL(url);
  parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}${suffix}`;
  return parsed.toString();
}

function wants(alerts: ResolvedAlerts | undefined, kind: AlertKind): alerts is ResolvedAlerts {
  return alerts !== undefined && alerts.on.includes(kind);
}

/** The webhook delivery and the failure ping of an alert, as the entry's settings ask. */
export function alertDeliveries(facts: AlertFacts): Delivery[] {
  const { entry, kind, slotMs } = facts;
  const alerts = entry.alerts;
  const out: Delivery[] = [];
  const base = `${kind}:${entry.name}:${slotMs}`;
  if (wants(alerts, kind) && alerts.webhook !== undefined) {
    const body = {
      id: `${base}`,
      kind,
      deployment: facts.deployment,
      entry: entry.name,
      task: entry.task,
      slot: new Date(slotMs).toISOString(),
      ...(facts.taskId === undefined ? {} : { taskId: facts.taskId }),
      ...(facts.state === undefined ? {} : { state: facts.state }),
      ...(facts.failedPart === undefined ? {} : { failedPart: facts.failedPart }),
      reason: facts.reason,
      ...(facts.count === undefined ? {} : { count: facts.count }),
      at: new Date(facts.atMs).toISOString(),
    };
    out.push({ id: `${base}:webhook`, url: alerts.webhook, body: JSON.stringify(body), contentType: JSON_TYPE, attempts: 0 });
  }
  // A ping check fails on any failure or miss, whatever `on` says: that is what the check is for.
  if (alerts?.ping !== undefined && (kind === 'failed' || kind === 'missed')) {
    out.push({
      id: `${base}:ping`,
      url: pingUrl(alerts.ping, '/fail'),
      body: `${entry.name}: ${facts.reason}\n`,
      contentType: TEXT_TYPE,
      attempts: 0,
    });
  }
  return out;
}

/** Slots passed over: a `missed` alert. */
export function missedDeliveries(deployment: string, missed: MissedSlots): Delivery[] {
  const reasons: Record<MissedSlots['reason'], string> = {
    catch_up_once: 'fired once for several missed slots (catchUp "once")',
    skip_late: 'missed slots skipped (catchUp "skip")',
    outside_window: 'missed slots older than catchUpWindow dropped',
    overlap: 'the previous run had not finished (overlap policy)',
    paused: 'they passed while the entry was paused',
    concurrency: 'its concurrency group was full (whenFull "skip", or a wait past its catch-up window)',
  };
  return alertDeliveries({
    deployment,
    entry: missed.entry,
    kind: 'missed',
    slotMs: missed.firstSlotMs,
    reason: `${missed.count} slot${missed.count === 1 ? '' : 's'} will not run: ${reasons[missed.reason]}`,
    atMs: missed.atMs,
    count: missed.count,
  });
}

/**
 * The deployment-wide stop set or lifted: a `stopped` alert to the config's own webhook (`alerts` at
 * the top of the config) when its `on` has `stopped`. Its id names the stop (when it was set), so
 * that a new leader that finds the same stop at its start adds nothing the outbox has not taken.
 */
export function stopDeliveries(deployment: string, alerts: ResolvedAlerts | undefined, change: DeploymentStopChange): Delivery[] {
  if (!wants(alerts, 'stopped') || alerts.webhook === undefined) return [];
  const { stop, lifted } = change;
  const id = `${lifted ? 'resumed' : 'stopped'}:${deployment}:${stop.atMs}`;
  const since = new Date(stop.atMs).toISOString();
  const note = stop.note === undefined ? '' : ` (note: ${stop.note})`;
  const body = {
    id,
    kind: 'stopped',
    deployment,
    entry: '',
    task: '',
    slot: since,
    state: lifted ? 'resumed' : 'stopped',
    reason: lifted
      ? `the deployment-wide stop set by ${stop.by} at ${since}${note} was lifted: publishing again, each entry catching up by its catchUp`
      : `the deployment is stopped by ${stop.by} since ${since}${note}: no replica publishes anything until 'beat resume --all'`,
    by: stop.by,
    ...(stop.note === undefined ? {} : { note: stop.note }),
    at: new Date(change.atMs).toISOString(),
  };
  return [{ id: `${id}:webhook`, url: alerts.webhook, body: JSON.stringify(body), contentType: JSON_TYPE, attempts: 0 }];
}

/**
 * A run was published: its `/start` ping. Never the success ping: a publish is not a run, and only
 * the run's outcome, heard from a worker, is (succeededPing).
 */
export function publishedPing(entry: ResolvedEntry, slotMs: number, taskId: string): Delivery[] {
  const ping = entry.alerts?.ping;
  if (ping === undefined) return [];
  return [
    {
      id: `start:${entry.name}:${slotMs}:ping`,
      url: pingUrl(ping, '/start'),
      body: `${entry.name}: published ${taskId}\n`,
      contentType: TEXT_TYPE,
      attempts: 0,
    },
  ];
}

/** A run succeeded: the success ping. */
export function succeededPing(entry: ResolvedEntry, slotMs: number, taskId: string): Delivery[] {
  const ping = entry.alerts?.ping;
  if (ping === undefined) return [];
  return [
    {
      id: `succeeded:${entry.name}:${slotMs}:ping`,
      url: ping,
      body: `${entry.name}: ${taskId} succeeded\n`,
      contentType: TEXT_TYPE,
      attempts: 0,
    },
  ];
}

/**
 * A run that ended: `failed` on FAILURE (and its failure ping), the success ping on SUCCESS. A
 * canvas run's alert names its first failed part (the one that raised: Celery marks a chain's later
 * steps failed with the same exception), whose path, task and exception its reason says too.
 */
export function finishedDeliveries(
  deployment: string,
  entry: ResolvedEntry,
  run: {
    readonly taskId: string;
    readonly slotMs: number;
    readonly state: string;
    readonly exception?: string;
    readonly finishedAtMs?: number;
    readonly parts?: readonly (FailedPart & { readonly state: string })[];
  },
  nowMs: number,
): Delivery[] {
  if (run.state === 'SUCCESS') return succeededPing(entry, run.slotMs, run.taskId);
  if (run.state !== 'FAILURE') return [];
  const failed = run.parts?.find((p) => p.state === 'FAILURE');
  return alertDeliveries({
    ...(failed === undefined
      ? {}
      : {
          failedPart: {
            path: failed.path,
            task: failed.task,
            id: failed.id,
            ...(failed.exception === undefined ? {} : { exception: failed.exception }),
          },
        }),
    deployment,
    entry,
    kind: 'failed',
    slotMs: run.slotMs,
    taskId: run.taskId,
    state: run.state,
    reason: run.exception ?? 'the task failed',
    atMs: run.finishedAtMs ?? nowMs,
  });
}

/**
 * pauseOnFailure paused the entry: a `paused` alert, to the webhook of an entry alerted on `paused`
 * or on `failed` (a pause is where a run of failures leads; whoever hears of those hears of it).
 */
export function pausedDeliveries(
  deployment: string,
  entry: ResolvedEntry,
  run: { readonly taskId: string; readonly slotMs: number; readonly exception?: string; readonly finishedAtMs?: number },
  nowMs: number,
): Delivery[] {
  const alerts = entry.alerts;
  if (alerts?.webhook === undefined || !(alerts.on.includes('paused') || alerts.on.includes('failed'))) return [];
  return alertDeliveries({
    deployment,
    entry: { ...entry, alerts: { ...alerts, on: ['paused'], ping: undefined } },
    kind: 'paused',
    slotMs: run.slotMs,
    taskId: run.taskId,
    state: 'FAILURE',
    reason: `paused after ${String(entry.pauseOnFailure)} failed run${entry.pauseOnFailure === 1 ? '' : 's'} in a row (pauseOnFailure); the last: ${run.exception ?? 'FAILURE'}; beat resume ${entry.name} starts it again`,
    atMs: run.finishedAtMs ?? nowMs,
  });
}

/** A run published longer than `lateAfter` ago and not finished: a `late` alert, once. */
export function lateDeliveries(
  deployment: string,
  entry: ResolvedEntry,
  run: { readonly taskId: string; readonly slotMs: number; readonly publishedAtMs: number; readonly state: string },
  nowMs: number,
): Delivery[] {
  const lateAfterMs = entry.alerts?.lateAfterMs;
  if (lateAfterMs === undefined || nowMs - run.publishedAtMs < lateAfterMs) return [];
  return alertDeliveries({
    deployment,
    entry,
    kind: 'late',
    slotMs: run.slotMs,
    taskId: run.taskId,
    state: run.state,
    reason: `not finished ${Math.round((nowMs - run.publishedAtMs) / 1000)} s after it was published (lateAfter ${lateAfterMs / 1000} s); still ${run.state}`,
    atMs: nowMs,
  });
}

/**
 * Nobody consumes the entry's queue: an `unconsumed` alert, once per stretch (its id holds the
 * first look that found the queue unread, the same for every look of it and every leader that
 * inherits the record).
 */
export function unconsumedDeliveries(deployment: string, entry: ResolvedEntry, queue: UnconsumedQueue, nowMs: number): Delivery[] {
  if (entry.alerts?.webhook === undefined || !entry.alerts.on.includes('unconsumed')) return [];
  return alertDeliveries({
    deployment,
    entry: { ...entry, alerts: { ...entry.alerts, ping: undefined } },
    kind: 'unconsumed',
    slotMs: queue.sinceMs,
    reason: `${queue.reason}: its runs wait unread; start a worker with -Q ${queue.queue}, or fix the entry's queue`,
    atMs: nowMs,
    ...(queue.depth === undefined ? {} : { count: queue.depth }),
  });
}

/**
 * A slot that failed for good went to the dead-letter list: a `dead-lettered` alert, once per
 * (entry, slot) (its id), naming the dead letter and how to replay it.
 */
export function deadLetteredDeliveries(deployment: string, entry: ResolvedEntry, letter: DeadLetter): Delivery[] {
  return alertDeliveries({
    deployment,
    entry,
    kind: 'dead-lettered',
    slotMs: letter.slotMs,
    taskId: letter.taskId,
    state: letter.end === 'failure' ? 'FAILURE' : 'unknown',
    reason: `dead-lettered ${letter.id} after ${letter.attempts} attempt${letter.attempts === 1 ? '' : 's'} (${letter.end}): ${letter.exception ?? (letter.end === 'lost' ? 'no outcome within outcomeTimeout' : 'the task failed')}; beat dead-letter replay ${letter.id} runs it again`,
    atMs: letter.atMs,
  });
}
