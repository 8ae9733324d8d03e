/**
 * The Celery settings tsbeat reads, as the dump script describes them, as config settings
 * (reference: celery-protocol.md and docs/migrating.md). `task_routes` keeps
 * Celery's matching: within one map an exact name wins over the patterns (celery/app/routes.py
 * MapRoute), a key is a glob only when it holds `*`, and a compiled regex matches from the start.
 */
import type { ImportNote } from './celery-entries.js';

export interface DumpedSettings {
  readonly timezone: string | null;
  readonly enable_utc: boolean;
  readonly task_default_queue: unknown;
  readonly task_routes: DumpedRouteMap[] | null;
  readonly broker_url: unknown;
  readonly broker_transport_options: Record<string, unknown>;
  readonly task_protocol: unknown;
  readonly task_queue_max_priority: unknown;
  readonly beat_cron_starting_deadline: unknown;
}

type DumpedRouteMap = { rules: { key: { text?: string; regex?: string; flags?: number }; route: unknown }[] } | { router: string };

/** Python's re flags tsbeat's /regex/ can say; others change the meaning. */
const REGEX_FLAGS: readonly [number, string][] = [
  [2, 'i'],
  [8, 'm'],
  [16, 's'],
];
/** re.UNICODE (the default for str patterns) and re.TEMPLATE carry no meaning here. */
const NEUTRAL_FLAGS = 32 | 1;

const ROUTE_KEYS: Readonly<Record<string, string>> = {
  queue: 'queue',
  exchange: 'exchange',
  exchange_type: 'exchangeType',
  routing_key: 'routingKey',
  priority: 'priority',
};

const TRANSPORT_OPTIONS = new Set([
  'global_keyprefix',
  'priority_steps',
  'sep',
  'master_name',
  'sentinel_kwargs',
  'fanout_prefix',
  'fanout_patterns',
  'socket_timeout',
  'socket_connect_timeout',
  'socket_keepalive',
  'client_name',
  'visibility_timeout',
  'queue_order_strategy',
  'max_connections',
  'health_check_interval',
  'retry_on_timeout',
]);

const BROKER_SCHEMES = /^(redis|rediss|redis\+socket|sentinel|amqp|amqps):\/\//;

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function patternOf(key: { text?: string; regex?: string; flags?: number }, where: string, notes: ImportNote[]): string | undefined {
  if (key.regex !== undefined) {
    const flags = key.flags ?? 0;
    const unknown = flags & ~NEUTRAL_FLAGS & ~REGEX_FLAGS.reduce((all, [bit]) => all | bit, 0);
    if (unknown !== 0) {
      notes.push({ where, message: `the regex /${key.regex}/ has Python flags (${flags}) tsbeat's routes cannot express; left out` });
      return undefined;
    }
    // Python's named groups (?P<name>…) are JavaScript's (?<name>…).
    const source = key.regex.replace(/\(\?P</g, '(?<');
    return `/${source}/${REGEX_FLAGS.filter(([bit]) => flags & bit)
      .map(([, f]) => f)
      .join('')}`;
  }
  const text = key.text ?? '';
  if (text.includes('*')) return /^\/.*\/[a-z]*$/s.test(text) ? `/^${fnmatchSource(text)}$/s` : text;
  // Celery reads a key without * as an exact name; tsbeat would read ?, [ or /…/ as a pattern.
  return /[?[]|^\/.*\/[a-z]*$/s.test(text) ? `/^${escapeRegex(text)}$/` : text;
}

function fnmatchSource(glob: string): string {
  return [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : escapeRegex(c))).join('');
}

function routeOf(route: unknown, where: string, notes: ImportNote[]): unknown {
  if (typeof route === 'string') return route;
  if (route === null || typeof route !== 'object' || Array.isArray(route)) {
    notes.push({ where, message: 'the route is neither a queue name nor a dict; left out' });
    return undefined;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(route as Record<string, unknown>)) {
    const ours = ROUTE_KEYS[key];
    if (ours === undefined) notes.push({ where: `${where}.${key}`, message: `tsbeat's routes do not set "${key}"; left out` });
    else out[ours] = value;
  }
  return out;
}

function routesOf(maps: DumpedRouteMap[], notes: ImportNote[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  maps.forEach((map, i) => {
    const where = `task_routes[${i}]`;
    if ('router' in map) {
      notes.push({ where, message: `a router function or class (${map.router}) decides in code; write its rules as taskRoutes by hand` });
      return;
    }
    const exact: [string, unknown][] = [];
    const patterns: [string, unknown][] = [];
    for (const { key, route } of map.rules) {
      const at = `${where}[${JSON.stringify(key.text ?? key.regex)}]`;
      const pattern = patternOf(key, at, notes);
      const value = routeOf(route, at, notes);
      if (pattern === undefined || value === undefined) continue;
      (key.regex === undefined && !(key.text ?? '').includes('*') ? exact : patterns).push([pattern, value]);
    }
    if (exact.length + patterns.length > 0) out.push(Object.fromEntries([...exact, ...patterns]));
  });
  return out;
}

/** The top-level settings of the config, with a note for each one left out. */
export function settingsOf(s: DumpedSettings, notes: ImportNote[]): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  if (s.timezone !== null) config.timezone = s.timezone;
  else if (!s.enable_utc)
    notes.push({
      where: 'enable_utc',
      message: 'enable_utc=False without a timezone: Celery uses the local zone of its machine; the config uses UTC (set timezone)',
    });
  const url = s.broker_url;
  if (typeof url === 'string' && url !== '') {
    if (!BROKER_SCHEMES.test(url))
      notes.push({
        where: 'broker_url',
        message: `tsbeat publishes to Redis or RabbitMQ (redis://, rediss://, sentinel://, amqp://, amqps://); ${url.split(':')[0]}:// is left out`,
      });
    else if (/:\/\/[^/@]*:[^/@]*@/.test(url))
      notes.push({
        where: 'broker_url',
        message: 'it holds a password, which is not written into the config; give it with --broker or $CELERY_BROKER_URL',
      });
    else config.broker = { url };
  }
  const transport: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(s.broker_transport_options)) {
    if (TRANSPORT_OPTIONS.has(key)) transport[key] = value;
    else notes.push({ where: `broker_transport_options.${key}`, message: 'not a transport option tsbeat reads; left out' });
  }
  if (Object.keys(transport).length > 0) config.broker = { ...(config.broker as object | undefined), transportOptions: transport };
  if (typeof s.task_default_queue === 'string' && s.task_default_queue !== 'celery') config.taskDefaultQueue = s.task_default_queue;
  const routes = s.task_routes === null ? [] : routesOf(s.task_routes, notes);
  if (routes.length > 0) config.taskRoutes = routes.length === 1 ? routes[0] : routes;
  if (s.task_protocol !== null && s.task_protocol !== 2) config.taskProtocol = s.task_protocol;
  if (s.task_queue_max_priority !== null) config.taskQueueMaxPriority = s.task_queue_max_priority;
  return config;
}
