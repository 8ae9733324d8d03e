/**
 * `alerts`, in the config (for every entry) and on an entry (overriding it field by field): a
 * webhook told of runs that failed, were missed or are late, and a ping URL in the style of
 * healthchecks.io (`<url>/start`, `<url>`, `<url>/fail`) so that existing monitoring keeps working.
 */
import * as z from 'zod';
import { shown } from '../base/errors.js';
import { maskUrl } from '../base/redact.js';
import { TIMER_MAX_MS, durationSchema } from './duration.js';
import { keyed } from './key-spelling.js';
import { DEFAULTS } from '../base/defaults.js';

/**
 * `stopped`: the deployment-wide stop set or lifted (`beat pause --all`), sent to the config's own
 * `alerts.webhook`; `dead-lettered`: a slot that failed for good went to the dead-letter list.
 */
export const ALERT_KINDS = ['failed', 'missed', 'late', 'paused', 'unconsumed', 'stopped', 'dead-lettered'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** The kinds that need to know how runs ended (a result backend). */
export const OUTCOME_ALERT_KINDS: ReadonlySet<AlertKind> = new Set(['failed', 'late', 'paused', 'dead-lettered']);

function httpUrl(what: string) {
  return z
    .string({ error: `${what} must be an http:// or https:// URL` })
    .refine(
      (text) => {
        try {
          const url = new URL(text);
          return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
        } catch {
          return false;
        }
      },
      { error: (issue) => `${what} must be an http:// or https:// URL, got ${shown(maskUrl(String(issue.input)))}`, abort: true },
    )
    .refine(
      // fetch refuses a URL with credentials, so such an alert could never be sent: every attempt
      // would fail, and only the log would say so.
      (text) => {
        const url = new URL(text);
        return url.username === '' && url.password === '';
      },
      {
        error: (issue) =>
          `${what} ${shown(maskUrl(String(issue.input)))} holds credentials (user:password@), which no alert can be sent with: ` +
          "send the receiver's secret as a token query parameter instead (?token=…, masked wherever tsbeat prints the URL)",
      },
    );
}

const alertsShape = {
  /** Where a JSON POST goes for each alert: {kind, entry, task, slot, taskId, state, reason, …}. */
  webhook: httpUrl('alerts.webhook').optional(),
  /**
   * Which alerts: `failed` (a run ended in FAILURE), `missed` (slots that will never run), `late` (not
   * finished within lateAfter), `paused` (pauseOnFailure paused the entry; also sent with `failed`),
   * `unconsumed` (nobody has consumed the entry's queue for consumers.unconsumedAfter),
   * `dead-lettered` (a slot that failed for good went to the dead-letter list).
   */
  on: z
    .array(z.enum(ALERT_KINDS, { error: `alerts.on holds ${ALERT_KINDS.join(', ')}` }), {
      error: `alerts.on must be a list of ${ALERT_KINDS.join(', ')}`,
    })
    .min(1, { error: 'alerts.on must name at least one kind; leave alerts out for none' })
    .optional(),
  /** A run still not finished this long after it was published is late. */
  lateAfter: durationSchema('alerts.lateAfter', 1000, TIMER_MAX_MS).optional(),
  /** A healthchecks.io-style check URL: `<url>/start` on publish, `<url>` on success, `<url>/fail` on failure or a missed slot. */
  ping: httpUrl('alerts.ping').optional(),
};

export const alertsSchema = keyed(alertsShape);

/**
 * The config's `alerts`: an entry's, and `allowedHosts`, the hosts the alert URLs of runtime
 * entries may reach (names, `*.example.com`, addresses); without it, any host whose addresses are
 * all public. Only the config file says so: an entry cannot widen its own reach.
 */
export const configAlertsSchema = keyed({
  ...alertsShape,
  allowedHosts: z
    .array(z.string({ error: 'alerts.allowedHosts holds host names' }).min(1).max(253), {
      error: 'alerts.allowedHosts must be a list of host names such as "hooks.example.com" or "*.example.com"',
    })
    .optional(),
});
export type ParsedAlerts = z.output<typeof alertsSchema>;

/** An entry's alert settings, the config's and its own merged. */
export interface ResolvedAlerts {
  readonly webhook: string | undefined;
  readonly on: readonly AlertKind[];
  readonly lateAfterMs: number | undefined;
  readonly ping: string | undefined;
}

/** The entry's own settings over the config's; undefined when neither sends anything anywhere. */
export function resolveAlerts(config: ParsedAlerts | undefined, entry: ParsedAlerts | undefined): ResolvedAlerts | undefined {
  const webhook = entry?.webhook ?? config?.webhook;
  const ping = entry?.ping;
  if (webhook === undefined && ping === undefined) return undefined;
  return {
    webhook,
    on: entry?.on ?? config?.on ?? DEFAULTS.alertsOn,
    lateAfterMs: entry?.lateAfter ?? config?.lateAfter,
    ping,
  };
}

/** How this config learns runs' outcomes (config/outcome-sources.ts). */
export interface OutcomeReading {
  /** Followed, as overlap policies and `late` need: a resultBackend or `taskEvents: true` (followsOutcomes). */
  readonly followed: boolean;
  /** Heard when the workers tell, task events read by default included (keepsRunHistory). */
  readonly heard: boolean;
}

/**
 * Alert settings that are valid alone but not in this config: `late` and `paused` need runs
 * followed (a resultBackend or `taskEvents: true`); `failed` and a ping's success need them heard
 * at least (task events read by default do: a failure or success is heard when a worker sends
 * it); `late` needs a `lateAfter`. Paths as the schema's.
 */
export function alertSettingProblems(
  config: ParsedAlerts | undefined,
  entries: Readonly<Record<string, { readonly alerts?: ParsedAlerts | undefined }>>,
  outcomes: OutcomeReading,
): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const howToKnow = "set resultBackend (the workers' Celery result_backend) or taskEvents (workers with -E)";
  const check = (alerts: ParsedAlerts | undefined, path: (string | number)[], inheritedLateAfter: number | undefined): void => {
    for (const kind of alerts?.on ?? []) {
      if (OUTCOME_ALERT_KINDS.has(kind) && !(kind === 'failed' || kind === 'dead-lettered' ? outcomes.heard : outcomes.followed)) {
        problems.push({
          path: [...path, 'on'],
          message: `"${kind}" alerts need to know how runs ended: ${howToKnow}, or leave "${kind}" out`,
        });
      }
    }
    if (alerts?.ping !== undefined && !outcomes.heard) {
      problems.push({
        path: [...path, 'ping'],
        message: `a ping's success is sent when a run is heard to have succeeded, and this config reads no outcomes: ${howToKnow}, or drop ping`,
      });
    }
    if (alerts?.on?.includes('late') === true && alerts.lateAfter === undefined && inheritedLateAfter === undefined) {
      problems.push({
        path: [...path, 'lateAfter'],
        message: '"late" alerts need lateAfter: how long after its publish a run counts as late (e.g. "30m")',
      });
    }
  };
  check(config, ['alerts'], undefined);
  for (const [name, entry] of Object.entries(entries)) check(entry.alerts, ['beatSchedule', name, 'alerts'], config?.lateAfter);
  return problems;
}
