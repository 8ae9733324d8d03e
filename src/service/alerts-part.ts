/**
 * Alerts wired: the outbox in Redis, the sink that turns scheduler events into deliveries, and the
 * leader's sender. Built for every service: the sender costs one outbox look every 30 s while leading
 * with nothing pending (at once when this leader queues one), and runtime entries may bring alerts
 * settings at any time.
 */
import type { RedisClient } from '../redis/connect.js';
import type { Logger } from '../base/log.js';
import { Alerting } from '../alerts/alerting.js';
import { AlertDeliverer, httpSend } from '../alerts/deliverer.js';
import { policySend, trustedAlertUrls } from '../alerts/outbound.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import {
  deadLetteredDeliveries,
  finishedDeliveries,
  lateDeliveries,
  pausedDeliveries,
  publishedPing,
  stopDeliveries,
  unconsumedDeliveries,
} from '../alerts/alert-rules.js';
import { resolveAlerts } from '../config/alerts-schema.js';
import { DEFAULTS } from '../base/defaults.js';
import type { DeadLetter, OutcomeEvents, RunRecord } from '../ports/outcomes.js';
import { EVENTS } from '../base/log-events.js';
import type { EntryState } from '../ports/state.js';
import { NO_EVENTS } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';
import { RedisAlertOutbox } from '../redis/alert-outbox.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { LeaderTask } from './supervisor.js';

export interface AlertsWiring {
  /** The events that raise alerts (publishes, missed slots), for the scheduler's sink. */
  readonly events: SchedulerEvents;
  /** Runs that ended (with a resultBackend or taskEvents): `failed` alerts and success pings. */
  readonly outcomeEvents: OutcomeEvents;
  /** A slot put in the dead-letter list: its `dead-lettered` alert. */
  readonly deadLettered: (letter: DeadLetter) => void;
  /** An entry that pauseOnFailure just paused: its `paused` alert. */
  readonly pausedOnFailure: (entry: string, record: RunRecord) => void;
  /** The leader's sender, started and stopped with each session. */
  readonly sender: LeaderTask;
  readonly alerting: Alerting;
}

export interface AlertsOptions {
  readonly config: ResolvedConfig;
  /** The config in force now (it changes on reload); absent: `config`. */
  readonly current?: () => ResolvedConfig;
  readonly client: RedisClient;
  readonly keys: SchedulerKeys;
  readonly logger: Logger;
  readonly now: () => number;
  /** Every entry in force (file and runtime), and their stored states: see `recoverPings`. */
  readonly entries: () => readonly ResolvedEntry[];
  readonly states: { readAll(): Promise<Map<string, EntryState>> };
  /** The entry in force of this name (file or runtime), for outcome events, which name entries only. */
  readonly entryNamed: (name: string) => ResolvedEntry | undefined;
  /** The runs followed and not finished yet (with a resultBackend or taskEvents), looked at every second for `late`. */
  readonly unfinished?: () => readonly { entry: string; record: RunRecord }[];
}

export function startAlerts(options: AlertsOptions): AlertsWiring {
  const { config, client, keys, logger, now } = options;
  const outbox = new RedisAlertOutbox(client, keys);
  const deliverer = new AlertDeliverer({ outbox, logger, now, send: alertSend(options) });
  const alerting = new Alerting({ deployment: config.name, outbox, logger, now, onQueued: () => deliverer.poke() });
  let lateTimer: NodeJS.Timeout | undefined;
  return {
    events: {
      ...NO_EVENTS,
      published: (run) => alerting.published(run),
      missed: (missed) => alerting.missed(missed),
      queueUnconsumed: (queue, routed) => {
        for (const entry of routed)
          if (entry.alerts?.on.includes('unconsumed') === true) alerting.add(unconsumedDeliveries(config.name, entry, queue, now()));
      },
      deploymentStop: (change) =>
        alerting.add(stopDeliveries(config.name, resolveAlerts((options.current?.() ?? config).alerts, undefined), change)),
    },
    outcomeEvents: {
      finished: (name, record) => {
        const entry = options.entryNamed(name);
        if (entry?.alerts !== undefined) alerting.add(finishedDeliveries(config.name, entry, record, now()));
      },
    },
    deadLettered: (letter) => {
      const entry = options.entryNamed(letter.entry);
      if (entry?.alerts !== undefined) alerting.add(deadLetteredDeliveries(config.name, entry, letter));
    },
    pausedOnFailure: (name, record) => {
      const entry = options.entryNamed(name);
      if (entry !== undefined) alerting.add(pausedDeliveries(config.name, entry, record, now()));
    },
    sender: {
      start: () => {
        deliverer.start();
        void recoverPings(alerting, options.entries(), options.states, logger);
        // The outbox takes each late alert once, so looking again every second costs no repeats.
        if (options.unfinished !== undefined) lateTimer = setInterval(() => lookForLate(options, alerting), DEFAULTS.alertPollMs).unref();
      },
      stop: async () => {
        clearInterval(lateTimer);
        await alerting.flush();
        await deliverer.stop();
      },
    },
    alerting,
  };
}

/** How alerts are sent: the config file's own alert URLs go anywhere; a runtime entry's only where the policy allows. */
function alertSend(options: Pick<AlertsOptions, 'config' | 'current'>): ReturnType<typeof policySend> {
  const { config } = options;
  let trusted: { of: readonly ResolvedEntry[]; urls: ReadonlySet<string> } | undefined;
  return policySend(
    {
      trustedUrls: () => {
        const current = options.current?.() ?? config;
        if (trusted?.of !== current.entries) trusted = { of: current.entries, urls: trustedAlertUrls(current.alerts, current.entries) };
        return trusted.urls;
      },
      allowedHosts: () => (options.current?.() ?? config).alertsAllowedHosts,
    },
    httpSend,
  );
}

/** A `late` alert for each run followed that has not finished within its entry's lateAfter. */
function lookForLate(options: Pick<AlertsOptions, 'config' | 'now' | 'unfinished' | 'entryNamed'>, alerting: Alerting): void {
  const nowMs = options.now();
  for (const { entry: name, record } of options.unfinished?.() ?? []) {
    const entry = options.entryNamed(name);
    if (entry?.alerts?.lateAfterMs !== undefined && entry.alerts.on.includes('late'))
      alerting.add(lateDeliveries(options.config.name, entry, record, nowMs));
  }
}

/**
 * A leader that died just after a publish may not have written its ping to the outbox yet: the
 * next leader pings each pinged entry's last scheduled run again. The outbox takes an id once, so
 * a ping that was written is not sent twice.
 */
async function recoverPings(
  alerting: Alerting,
  entries: readonly ResolvedEntry[],
  states: { readAll(): Promise<Map<string, EntryState>> },
  logger: Logger,
): Promise<void> {
  const pinged = entries.filter((e) => e.alerts?.ping !== undefined);
  if (pinged.length === 0) return;
  try {
    const stored = await states.readAll();
    for (const entry of pinged) {
      const state = stored.get(entry.name);
      if (state?.slotMs === undefined || state.lastTaskId === undefined || state.lastRunTriggered === true) continue;
      alerting.add(publishedPing(entry, state.slotMs, state.lastTaskId));
    }
  } catch (error) {
    logger.warn({ event: EVENTS.alertOutboxFailed, err: error }, 'could not read the last runs to recover their pings');
  }
}
