/**
 * Outages as an operator reads them: one line when a server this process depends on goes away,
 * naming what waits for it, and one line when it is back, with how long it was gone.
 *
 * Why here, at the logger: while Redis is down every loop that uses it fails in its own words
 * (ioredis's "Stream isn't writeable and enableOfflineQueue options is false", "Reached the max
 * retries per request limit", redlock's "unable to achieve a quorum during its retry window"), a
 * dozen kinds of warning in seconds, all saying the one thing the outage line already said. Each
 * connection reports its server lost and found (src/redis/connect.ts, the Redis broker); while an
 * outage is open, the logger (log.ts) turns a warning whose error only says "not reachable" into a
 * debug line. Warnings of other causes stay warnings, and every state change (the lock lost, the
 * leadership regained) keeps its own line.
 */
import { EVENTS } from './log-events.js';
import type { Logger } from 'pino';

/** System error codes that say the server could not be reached, in an operator's words. */
const SOCKET_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
};

/**
 * What a client library says of a command it did not send, or whose reply it stopped waiting for,
 * because the server is gone or hung, with the reason in an operator's words: ioredis (offline
 * queue off, retries spent, socket closed, or silent past socketTimeout: a hung server, SIGSTOPped
 * or swapping, accepts the connection and never answers), its Cluster client while a slot's master
 * fails over (its MOVED, ASK, TRYAGAIN and CLUSTERDOWN retries spent as "Too many Cluster
 * redirections", no node answering CLUSTER SLOTS) and redlock (no quorum: every Redis it asked
 * failed). This is the one classification of "unreachable, try again" (REDIS_UNAVAILABLE, 503).
 */
const NOT_CONNECTED: readonly (readonly [RegExp, string])[] = [
  // First: its message ends with the last error ("… Last error: Error: Connection is closed.").
  // A server's reply starts with its code; elsewhere the words could be an entry's name.
  [/Too many Cluster redirections|^(?:CLUSTERDOWN|TRYAGAIN)\b/, "the cluster slot's master failing over"],
  [/Failed to refresh slots cache|None of startup nodes is available/, 'no cluster node answering'],
  [/Command timed out|Socket timeout/, 'not answering'],
  [
    /Stream isn't writeable|Cluster isn't ready|Connection is closed|Command aborted due to connection close|Cluster is (?:disconnect|ended)|Node is disconnected|Socket closed unexpectedly|Reached the max retries per request limit|unable to achieve a quorum/,
    'not connected',
  ],
];

/**
 * Why `error` (or an error in its cause chain) says the server was not reached, in words
 * ("connection refused"), or undefined when it says something else: a refusal by the server, a
 * wrong type, a script error.
 */
export function unreachableReason(error: unknown, depth = 0): string | undefined {
  if (error === null || typeof error !== 'object' || depth > 4) return undefined;
  const e = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && SOCKET_CODES[e.code] !== undefined) return SOCKET_CODES[e.code];
  const message = typeof e.message === 'string' ? e.message : '';
  const said = NOT_CONNECTED.find(([pattern]) => pattern.test(message));
  if (said !== undefined) return said[1];
  // Node reports a refused connection to a host with several addresses as an AggregateError.
  if (Array.isArray(e.errors)) {
    for (const part of e.errors) {
      const reason = unreachableReason(part, depth + 1);
      if (reason !== undefined) return reason;
    }
  }
  return unreachableReason(e.cause, depth + 1);
}

/** What waits for a connection of each role, in an operator's words (a role not listed is named as it is). */
const WAITING: Readonly<Record<string, string>> = {
  state: 'the lock and the schedule state',
  subscriber: 'control requests',
  publishing: 'publishing',
  'result backend': 'run outcomes',
  redbeat: 'RedBeat entries',
};

interface Outage {
  readonly sinceMs: number;
  /** The connections (each its role, or `role#n` where a role has several) down now; the outage ends when the last comes back. */
  readonly down: Set<string>;
  /** The connections ready again since it began (and not lost since): the server answers them. */
  readonly back: Set<string>;
}

/**
 * The servers this process cannot reach now, by the URL it shows for them (password masked). One
 * per process (OUTAGES): what the logger asks of it is whether any outage is open.
 */
export class Outages {
  /** endpoint → the roles (state, lock, broker, …) that use it, as registered. */
  private readonly uses = new Map<string, Set<string>>();
  private readonly open = new Map<string, Outage>();

  constructor(private readonly nowMs: () => number = Date.now) {}

  /** `role` uses the server at `endpoint`: the outage line names every role of its server. */
  register(endpoint: string, role: string): void {
    let roles = this.uses.get(endpoint);
    if (roles === undefined) this.uses.set(endpoint, (roles = new Set()));
    roles.add(role);
  }

  /** Whether any server is unreachable now. */
  any(): boolean {
    return this.open.size > 0;
  }

  /** Whether the server at `endpoint` is unreachable now. */
  isDown(endpoint: string): boolean {
    return this.open.has(endpoint);
  }

  /**
   * `role`'s connection to `endpoint` (`connection`, when the role has several) failed because of
   * `reason`: the first of its server's connections to fail opens the outage with one warning; the
   * others only join it.
   */
  lost(endpoint: string, role: string, reason: string, retryMs: number, logger: Logger, connection = role): void {
    this.register(endpoint, role);
    const outage = this.open.get(endpoint);
    if (outage !== undefined) {
      outage.down.add(connection);
      outage.back.delete(connection);
      return;
    }
    this.open.set(endpoint, { sinceMs: this.nowMs(), down: new Set([connection]), back: new Set() });
    const waiting = [...new Set([...(this.uses.get(endpoint) ?? [role])].map((r) => WAITING[r] ?? r))].sort();
    logger.warn(
      { event: EVENTS.redisDown, url: endpoint, reason, waiting, retryMs },
      `Redis ${endpoint} is unreachable (${reason}): ${waiting.join(', ')} wait for it; reconnecting every ${Math.round(retryMs / 1000)} s at most. Runs due meanwhile are published when it is back, as each entry's catchUp says`,
    );
  }

  /** `connection` (as `lost` named it) to `endpoint` is ready again: the last of them closes the outage with one line. */
  found(endpoint: string, connection: string, logger: Logger): void {
    const outage = this.open.get(endpoint);
    if (outage === undefined) return;
    outage.back.add(connection);
    outage.down.delete(connection);
    if (outage.down.size > 0) return;
    this.open.delete(endpoint);
    const outageMs = this.nowMs() - outage.sinceMs;
    logger.info(
      { event: EVENTS.redisUp, url: endpoint, outageMs, since: new Date(outage.sinceMs).toISOString() },
      `Redis ${endpoint} is reachable again after ${(outageMs / 1000).toFixed(1)} s`,
    );
  }

  /**
   * `connection` to `endpoint` was closed for good (a leader that stood down stops listening to task
   * events): it waits for the server no longer. Without this the outage would wait for it for ever,
   * and every "unreachable" warning after it would stay a debug line. When it was the last one
   * down, the outage ends: said as found says it when another connection came back meanwhile, and
   * without a line when none did (nothing shows the server is back).
   */
  gone(endpoint: string, connection: string, logger: Logger): void {
    const outage = this.open.get(endpoint);
    if (outage === undefined || !outage.down.has(connection)) return;
    if (outage.back.size > 0 || outage.down.size > 1) {
      outage.down.delete(connection);
      if (outage.down.size === 0) this.found(endpoint, connection, logger);
      return;
    }
    this.open.delete(endpoint);
  }
}

/** This process's outages (see the header). */
export const OUTAGES = new Outages();

/**
 * Whether a log line at `level` (pino's number) with these fields only repeats an open outage: a
 * warning or an error whose `err` says the server was not reached, while an outage is open.
 */
export function repeatsOutage(level: number, fields: unknown, outages: Outages = OUTAGES): boolean {
  if (level < 40 || !outages.any() || fields === null || typeof fields !== 'object') return false;
  return unreachableReason((fields as { err?: unknown }).err) !== undefined;
}
