/**
 * Every error tsbeat raises on purpose carries a stable `code` (for logs, tests and exit codes)
 * and, where it wraps another failure, the original as `cause`.
 */
export const ErrorCode = {
  /** The config file is missing, unreadable or invalid. Exit code 2. */
  ConfigInvalid: 'CONFIG_INVALID',
  ConfigNotFound: 'CONFIG_NOT_FOUND',
  ConfigLoad: 'CONFIG_LOAD',
  /** A command-line argument is malformed. Exit code 2. */
  Usage: 'USAGE',
  /** A schedule asks for something that can never happen or cannot be computed. */
  ScheduleImpossible: 'SCHEDULE_IMPOSSIBLE',
  /** A schedule computation spent its step budget (scheduleStepBudget): its entry is failed alone. */
  ScheduleBudget: 'SCHEDULE_BUDGET',
  /** A schedule computation gave a next slot that is not after the instant asked about: its entry is failed alone. */
  ScheduleStalled: 'SCHEDULE_STALLED',
  /** Task arguments cannot be encoded as Celery would decode them. */
  MessageInvalid: 'MESSAGE_INVALID',
  /** The broker refused or could not take a message. */
  BrokerPublish: 'BROKER_PUBLISH',
  BrokerUrl: 'BROKER_URL',
  /**
   * The broker refused to declare a queue, exchange or binding (RabbitMQ 406 PRECONDITION_FAILED:
   * the queue exists with other arguments, e.g. a different x-max-priority or queue type).
   */
  BrokerDeclare: 'BROKER_DECLARE',
  /** Redis (state, lock, control) cannot be reached. */
  RedisUnavailable: 'REDIS_UNAVAILABLE',
  /**
   * Redis refused tsbeat for a reason retrying cannot fix, named with its fix by
   * src/redis/server-errors.ts: a DB the server does not have, a wrong or missing password, an ACL
   * user without a command (exit 2: the URL or the server's settings must change); a Redis out of
   * memory or a read-only replica; a key of another type where tsbeat keeps its own.
   */
  RedisDbOutOfRange: 'REDIS_DB_OUT_OF_RANGE',
  RedisAuth: 'REDIS_AUTH',
  RedisNoPerm: 'REDIS_NOPERM',
  RedisReadOnly: 'REDIS_READONLY',
  RedisOom: 'REDIS_OOM',
  RedisWrongType: 'REDIS_WRONGTYPE',
  /** A key of tsbeat's holds the right type but a value tsbeat never writes (a counter that is no number): named with its repair. */
  RedisGarbled: 'REDIS_GARBLED',
  /** The AMQP broker refused the connection itself (a vhost that does not exist, access refused). */
  BrokerRefused: 'BROKER_REFUSED',
  /** A command named an entry that the config does not have. */
  UnknownEntry: 'UNKNOWN_ENTRY',
  /** A dead letter's id that is not on the deployment's dead-letter list (`beat dead-letter list` shows the ids). Exit 2, HTTP 404. */
  DeadLetterNotFound: 'DEAD_LETTER_NOT_FOUND',
  /**
   * A bulk action's label selector (`-l`, the API's `selector`) selects no entry: nothing was done.
   * Exit code 1 (the labels, not the command, may be what must change), HTTP 409 (the request is
   * well formed; the deployment holds nothing it applies to).
   */
  NothingSelected: 'NOTHING_SELECTED',
  /**
   * A bulk action's `count` (the number of entries its confirmation named) is not the number its
   * selector selects now: the labels changed since; nothing was done. HTTP 409.
   */
  SelectionChanged: 'SELECTION_CHANGED',
  /** What `beat import` reads cannot be read: a missing file, a bad line, an app that does not import. Exit code 2. */
  ImportInput: 'IMPORT_INPUT',
  /** An instant outside the years 0001-9999, which an ISO-8601 date (and Python's datetime) cannot hold. */
  InstantOutOfRange: 'INSTANT_OUT_OF_RANGE',
  /** A runtime entry (`beat entries`, the HTTP API, the client) is invalid: its problems are listed. Exit code 2, HTTP 400. */
  EntryInvalid: 'ENTRY_INVALID',
  /** A runtime entry would take the name of a config-file entry. Exit code 2, HTTP 409. */
  EntryIsStatic: 'ENTRY_IS_STATIC',
  /** A runtime entry changed between a read and the write that depended on it. Exit code 1 (retry), HTTP 409/412. */
  EntryConflict: 'ENTRY_CONFLICT',
  /** `beat apply` names an entry that another owner (or no owner) holds: nothing written. Exit code 2, HTTP 409. */
  OwnerConflict: 'OWNER_CONFLICT',
  /** `beat apply --plan-digest` names a plan of a store or file that has changed since: nothing written. Exit code 2, HTTP 409. */
  PlanStale: 'PLAN_STALE',
  /**
   * A manual run or backfill asked for while the deployment is stopped (`beat pause --all`):
   * nothing was queued. Exit code 1 (it passes with `beat resume --all`), HTTP 409.
   */
  DeploymentStopped: 'DEPLOYMENT_STOPPED',
  /**
   * `beat plan --config` found no definition of the running deployment to compare with: no leader
   * recorded one (none has run, or a tsbeat before `beat plan --config`), or the one recorded was
   * too large or unreadable. Exit code 2: start `beat run` with the config it runs once.
   */
  DefinitionMissing: 'DEFINITION_MISSING',
  /**
   * The HTTP API refused a request: no or a wrong bearer token (401), a write with no token
   * configured, or a read from beyond loopback without one (403), an unknown path (404), a method the
   * path does not take (405), a body too large (413), not JSON (415 for its type, 400 when it does
   * not parse), a bad query parameter (400).
   */
  ApiUnauthorized: 'API_UNAUTHORIZED',
  ApiForbidden: 'API_FORBIDDEN',
  /**
   * The caller's grants (core/grants.ts: a token's line in the tokens file) do not allow the verb on
   * an entry it touches, or on the whole deployment (403): nothing was done. The message names the
   * grant that is missing.
   */
  Forbidden: 'FORBIDDEN',
  ApiNotFound: 'API_NOT_FOUND',
  ApiMethodNotAllowed: 'API_METHOD_NOT_ALLOWED',
  ApiBodyTooLarge: 'API_BODY_TOO_LARGE',
  /** Large request bodies are being written at the most allowed at once (429, with Retry-After): send it again then. */
  ApiBusy: 'API_BUSY',
  ApiUnsupportedMediaType: 'API_UNSUPPORTED_MEDIA_TYPE',
  ApiBadRequest: 'API_BAD_REQUEST',
  /** A request target over DEFAULTS.httpMaxUrlBytes (414), or headers over Node's limit (431). */
  ApiUriTooLong: 'API_URI_TOO_LONG',
  ApiHeadersTooLarge: 'API_HEADERS_TOO_LARGE',
  /** The request's Host header names another server (DNS rebinding): refused on every path that shows entries (403). */
  ApiForeignHost: 'API_FOREIGN_HOST',
  /**
   * A write of a dashboard session signed in with single sign-on (auth.oidc), while the identity
   * provider cannot be reached to check that sign-in again (503): try again once it answers; API
   * tokens still work.
   */
  IssuerUnreachable: 'ISSUER_UNREACHABLE',
  /**
   * The dashboard's: a read off loopback, or a write, without a session (401; the page shows its
   * login on it); and single sign-on's (auth.oidc): not configured (404), a callback without the
   * browser's sign-in or with another state (400), a person whose claim maps to no grant (403), a
   * provider that refused (502) or cannot be reached (503), a client secret that cannot be read
   * (500). Lower case, as the page and the sign-in's callers have always read them.
   */
  LoginRequired: 'login_required',
  SsoOff: 'sso_off',
  SignInState: 'bad_sign_in_state',
  SignInNoGrants: 'no_grants',
  SignInFailed: 'sign_in_failed',
  SignInUnreachable: 'issuer_unreachable',
  SsoSecret: 'sso_secret',
  /** tsbeat's own failure while answering (500): the answer's errorId is in the log line beat.http.error. */
  Internal: 'INTERNAL',
  /**
   * The Django database of sources.django cannot be read by a command that needs it once (`beat
   * check`, `next`, `status`, `import django`): unreachable, a database or user it refuses, or no
   * django-celery-beat tables. Exit code 2: the URL (or the migration) must change.
   */
  DjangoDatabase: 'DJANGO_DATABASE',
  /**
   * The deployment's Redis holds tsbeat 0.2.x's record of more than one partition (or of a move of
   * them): 0.3.0 retired partitions, and refuses to open it before writing anything. Exit code 2:
   * `beat partitions set 1` with 0.2.x first (CHANGELOG.md).
   */
  PartitionsRetired: 'PARTITIONS_RETIRED',
  /**
   * A one-server Redis URL (redis://, rediss://, sentinel://) reaches a node of a Redis Cluster: its
   * keys' slots are spread over masters that URL does not follow, and a Redis broker cannot be a
   * cluster at all (kombu's Redis transport has no cluster mode). Exit code 2: the URL must change.
   */
  RedisClusterMode: 'REDIS_CLUSTER_MODE',
  /** A Lua script of the installation cannot be assembled (an `--- @include` of a fragment that is not there, or a cycle). */
  LuaScriptInvalid: 'LUA_SCRIPT_INVALID',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * How each code is answered: the CLI's exit code (2: the input must change, a flag, the config, a
 * URL or the server's settings; 1: a failure that may pass, or tsbeat's own) and the HTTP API's
 * status (503: Redis or the broker away or refusing, the one answer a client should retry; 500:
 * tsbeat's own failure). The CLI's exit and the API's answers read them here.
 */
export const ERROR_ANSWERS: { readonly [C in ErrorCode]: { readonly exit: 1 | 2; readonly http: number } } = {
  CONFIG_INVALID: { exit: 2, http: 500 },
  CONFIG_NOT_FOUND: { exit: 2, http: 500 },
  CONFIG_LOAD: { exit: 2, http: 500 },
  USAGE: { exit: 2, http: 500 },
  SCHEDULE_IMPOSSIBLE: { exit: 1, http: 500 },
  SCHEDULE_BUDGET: { exit: 2, http: 400 },
  SCHEDULE_STALLED: { exit: 1, http: 500 },
  MESSAGE_INVALID: { exit: 1, http: 500 },
  BROKER_PUBLISH: { exit: 1, http: 503 },
  BROKER_URL: { exit: 2, http: 500 },
  BROKER_DECLARE: { exit: 1, http: 500 },
  REDIS_UNAVAILABLE: { exit: 1, http: 503 },
  REDIS_DB_OUT_OF_RANGE: { exit: 2, http: 503 },
  REDIS_AUTH: { exit: 2, http: 503 },
  REDIS_NOPERM: { exit: 2, http: 503 },
  REDIS_READONLY: { exit: 2, http: 503 },
  REDIS_OOM: { exit: 1, http: 503 },
  REDIS_WRONGTYPE: { exit: 1, http: 503 },
  REDIS_GARBLED: { exit: 1, http: 503 },
  BROKER_REFUSED: { exit: 2, http: 503 },
  UNKNOWN_ENTRY: { exit: 2, http: 404 },
  DEAD_LETTER_NOT_FOUND: { exit: 2, http: 404 },
  NOTHING_SELECTED: { exit: 1, http: 409 },
  SELECTION_CHANGED: { exit: 1, http: 409 },
  IMPORT_INPUT: { exit: 2, http: 500 },
  INSTANT_OUT_OF_RANGE: { exit: 1, http: 500 },
  ENTRY_INVALID: { exit: 2, http: 400 },
  ENTRY_IS_STATIC: { exit: 2, http: 409 },
  ENTRY_CONFLICT: { exit: 1, http: 412 },
  OWNER_CONFLICT: { exit: 2, http: 409 },
  PLAN_STALE: { exit: 2, http: 409 },
  DEPLOYMENT_STOPPED: { exit: 1, http: 409 },
  DEFINITION_MISSING: { exit: 2, http: 409 },
  API_UNAUTHORIZED: { exit: 1, http: 401 },
  API_FORBIDDEN: { exit: 1, http: 403 },
  FORBIDDEN: { exit: 1, http: 403 },
  API_NOT_FOUND: { exit: 1, http: 404 },
  API_METHOD_NOT_ALLOWED: { exit: 1, http: 405 },
  API_BODY_TOO_LARGE: { exit: 1, http: 413 },
  API_BUSY: { exit: 1, http: 429 },
  API_UNSUPPORTED_MEDIA_TYPE: { exit: 1, http: 415 },
  API_BAD_REQUEST: { exit: 1, http: 400 },
  API_URI_TOO_LONG: { exit: 1, http: 414 },
  API_HEADERS_TOO_LARGE: { exit: 1, http: 431 },
  API_FOREIGN_HOST: { exit: 1, http: 403 },
  ISSUER_UNREACHABLE: { exit: 1, http: 503 },
  login_required: { exit: 1, http: 401 },
  sso_off: { exit: 2, http: 404 },
  bad_sign_in_state: { exit: 1, http: 400 },
  no_grants: { exit: 1, http: 403 },
  sign_in_failed: { exit: 2, http: 502 },
  issuer_unreachable: { exit: 1, http: 503 },
  sso_secret: { exit: 2, http: 500 },
  INTERNAL: { exit: 1, http: 500 },
  DJANGO_DATABASE: { exit: 2, http: 500 },
  LUA_SCRIPT_INVALID: { exit: 1, http: 500 },
  PARTITIONS_RETIRED: { exit: 2, http: 409 },
  REDIS_CLUSTER_MODE: { exit: 2, http: 503 },
};

export class BeatError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BeatError';
    this.code = code;
  }
}

/** One problem in a config file, located by a dotted path such as `beatSchedule.nightly.schedule`. */
export interface ConfigProblem {
  path: string;
  message: string;
  /** 1-based line in the config file, where the format lets us find it (YAML). */
  line?: number;
}

/** All the problems of one config file, reported together. */
export class ConfigError extends BeatError {
  readonly problems: readonly ConfigProblem[];
  readonly source: string;
  constructor(source: string, problems: readonly ConfigProblem[], code: ErrorCode = ErrorCode.ConfigInvalid) {
    super(code, formatProblems(source, problems));
    this.name = 'ConfigError';
    this.problems = problems;
    this.source = source;
  }
}

export function formatProblems(source: string, problems: readonly ConfigProblem[]): string {
  const n = problems.length;
  const head = `${source}: ${n} problem${n === 1 ? '' : 's'}`;
  return [
    head,
    ...problems.map((p) => `  ${p.path === '' ? '(top level)' : p.path}${p.line === undefined ? '' : ` (line ${p.line})`}: ${p.message}`),
  ].join('\n');
}

/** Problems on one line, `path: message; …` (a problem of the whole value without its path), as the commands and logs say them. */
export function problemsInline(problems: readonly Pick<ConfigProblem, 'path' | 'message'>[]): string {
  return problems.map((p) => `${p.path === '' ? '' : `${p.path}: `}${p.message}`).join('; ');
}

/** User-supplied text longer than this is cut where an error message echoes it. */
export const ECHO_MAX_CHARS = 80;

/**
 * A user-supplied value as an error message shows it: quoted, and cut to ECHO_MAX_CHARS with its
 * full length named, so that a mistaken or hostile value (a 100,000-character time zone, say)
 * cannot flood a terminal or a log line. Every message that echoes user text goes through here.
 */
export function shown(text: string): string {
  if (text.length <= ECHO_MAX_CHARS) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, ECHO_MAX_CHARS))}…(${text.length} chars)`;
}

/**
 * Cuts every double-quoted run of a message longer than ECHO_MAX_CHARS the way `shown` does: the
 * net under messages built deep inside parsers (cron fields, say) that quote user text themselves.
 * Applied to every config problem and to every error the CLI prints.
 */
export function clipQuoted(message: string): string {
  return message.replace(/"((?:[^"\\]|\\.)*)"/g, (whole, inner: string) =>
    inner.length > ECHO_MAX_CHARS ? `"${inner.slice(0, ECHO_MAX_CHARS).replace(/\\$/, '')}"…(${inner.length} chars)` : whole,
  );
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
