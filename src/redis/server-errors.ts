/**
 * The boundary between what a server answers and what tsbeat tells its operator: a refusal by Redis
 * (a DB it does not have, a wrong password, an ACL user without a command, out of memory, a
 * read-only replica, a key of another type) or by RabbitMQ (a vhost that does not exist, a refused
 * login) becomes a BeatError with its own code, the server's error as `cause` (without the command's
 * arguments: for AUTH they are the password), and a message that names the server, what it refused
 * and the fix. Every place that talks to Redis passes its failures through here, so the same
 * refusal reads the same in `run`'s log and in every command.
 *
 * The server's reply is often wrapped: in EXECABORT (a MULTI whose queued commands were refused:
 * ioredis keeps their errors in `previousErrors`), in "Ready check failed: …" (ioredis's INFO), or
 * in redlock's ExecutionError (its votes against are in `attempts`; see lockRefusal).
 */
import { ExecutionError, ResourceLockedError } from 'redlock';
import { BeatError, ErrorCode } from '../base/errors.js';

/** Where a failure happened, as an operator may see it. */
export interface RedisPlace {
  /** The URL with its password masked. */
  readonly url: string;
  readonly db?: number | undefined;
  /** The ACL user of the URL, if any. */
  readonly user?: string | undefined;
  /** The key the failed command was about (for WRONGTYPE). */
  readonly key?: string | undefined;
  /** The type tsbeat keeps at `key` (as TYPE names it: string, hash, set, list). */
  readonly keyHolds?: string | undefined;
  /** The type `key` was found to hold instead. */
  readonly keyFound?: string | undefined;
}

/** The codes redisRefusal gives. */
const REFUSAL_CODES: ReadonlySet<string> = new Set([
  ErrorCode.RedisDbOutOfRange,
  ErrorCode.RedisAuth,
  ErrorCode.RedisNoPerm,
  ErrorCode.RedisReadOnly,
  ErrorCode.RedisOom,
  ErrorCode.RedisWrongType,
]);

const places = new WeakMap<object, RedisPlace>();

/** Remembers where a client connects (guardConnection does it for every client tsbeat makes). */
export function registerPlace(client: object, place: RedisPlace): void {
  places.set(client, place);
}

/** Where `client` connects, as registered (every client tsbeat makes is). */
export function placeOf(client: object, extra: Partial<RedisPlace> = {}): RedisPlace {
  return { ...(places.get(client) ?? { url: '(a connection tsbeat did not make)' }), ...extra };
}

/** The server's own error inside the wrappers that ioredis puts around it. */
function innermost(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5; depth += 1) {
    if (current instanceof BeatError && current.cause !== undefined) current = current.cause;
    else if (current instanceof Error && /^EXECABORT/.test(current.message)) {
      const previous = (current as { previousErrors?: unknown[] }).previousErrors;
      if (!Array.isArray(previous) || previous.length === 0) return current;
      current = previous[0];
    } else return current;
  }
  return current;
}

/** The name of the command that failed, from ioredis's `command` or the server's text. */
function commandOf(error: Error): string | undefined {
  const quoted = /'([^']+)' command/.exec(error.message)?.[1];
  const name = quoted ?? (error as { command?: { name?: unknown } }).command?.name;
  return typeof name === 'string' ? name.toUpperCase() : undefined;
}

/**
 * ioredis attaches the failed command, arguments included, to its errors; when AUTH fails those
 * arguments are the user and password. A cause is kept for operators, without the arguments.
 */
export function withoutCommandArgs(error: unknown): unknown {
  if (!(error instanceof Error) || !('command' in error)) return error;
  const copy = new Error(error.message);
  copy.name = error.name;
  const command = (error as { command?: { name?: unknown } }).command;
  Object.assign(copy, { command: { name: command?.name } });
  return copy;
}

/**
 * The BeatError for a refusal by Redis, or undefined when `error` is not one (a dropped connection,
 * a timeout: worth retrying as it is).
 */
export function redisRefusal(error: unknown, place: RedisPlace): BeatError | undefined {
  // Already translated (by a caller that knew more of the place): kept as it is.
  if (error instanceof BeatError && REFUSAL_CODES.has(error.code)) return error;
  const inner = innermost(error);
  if (!(inner instanceof Error)) return undefined;
  const text = inner.message.replace(/^Ready check failed: /, '');
  const at = `Redis at ${place.url}`;
  const cause = { cause: withoutCommandArgs(inner) };
  if (/DB index is out of range|invalid DB index/i.test(text)) {
    return new BeatError(
      ErrorCode.RedisDbOutOfRange,
      `${at}: the server has no DB ${place.db ?? '(from the URL)'} (${text}). Use a DB number the server has (0 to its \`databases\` setting minus one; 16 DBs by default), or raise \`databases\` in the server's redis.conf and restart it`,
      cause,
    );
  }
  if (/^WRONGPASS/.test(text) || /invalid password|invalid username-password/i.test(text)) {
    return new BeatError(
      ErrorCode.RedisAuth,
      `${at}: the server refused the ${place.user === undefined ? 'password' : `user "${place.user}" or its password`} (${text}). Correct the credentials in the URL (redis://USER:PASSWORD@host:port/db), or the server's requirepass / ACL user`,
      cause,
    );
  }
  if (/^NOAUTH/.test(text)) {
    return new BeatError(
      ErrorCode.RedisAuth,
      `${at}: the server requires a password and none was accepted (${text}). Put it in the URL: redis://:PASSWORD@host:port/db (redis://USER:PASSWORD@… for an ACL user)`,
      cause,
    );
  }
  if (/\bNOPERM\b/.test(text)) return noPermRefusal(at, text, commandOf(inner), place, cause);
  if (/^OOM\b/.test(text) || /\bOOM command not allowed\b/.test(text)) {
    return new BeatError(
      ErrorCode.RedisOom,
      `${at} is out of memory and refuses writes (${text}). Free memory (are the workers consuming their queues?) or raise the server's maxmemory`,
      cause,
    );
  }
  if (/^READONLY\b/.test(text) || /\bREADONLY You can't write\b/.test(text)) {
    return new BeatError(
      ErrorCode.RedisReadOnly,
      `${at} is a read-only replica (${text}). Point the URL at the primary, or use sentinel://… with masterName to follow it`,
      cause,
    );
  }
  if (/^WRONGTYPE\b/.test(text) || /\bWRONGTYPE Operation\b/.test(text)) return wrongTypeRefusal(at, text, place, cause);
  return undefined;
}

/** NOPERM: the ACL user may not use a command or a key; the fix names the grant. */
function noPermRefusal(at: string, text: string, command: string | undefined, place: RedisPlace, cause: { cause: unknown }): BeatError {
  const user = place.user ?? 'default';
  const what = /access (a|one of the) key|keys/i.test(text) ? 'a key tsbeat uses' : `the ${command ?? 'command'} command`;
  // tsbeat runs its scripts by EVALSHA and loads them by EVAL or SCRIPT LOAD when the server lacks them.
  const commands =
    command === undefined ? '+<command>' : /^EVAL/.test(command) ? '+evalsha +eval +script|load' : `+${command.toLowerCase()}`;
  const grant = /key/i.test(what)
    ? `ACL SETUSER ${user} ~* (or a pattern covering tsbeat's prefix and the queues)`
    : `ACL SETUSER ${user} ${commands}`;
  return new BeatError(
    ErrorCode.RedisNoPerm,
    `${at}: the ACL user "${user}" may not use ${what} (${text}). Grant it on the server: ${grant}`,
    cause,
  );
}

/** WRONGTYPE: a key of the deployment holds another type of value (what the place knows of it is named). */
function wrongTypeRefusal(at: string, text: string, place: RedisPlace, cause: { cause: unknown }): BeatError {
  const key = place.key === undefined ? 'one of its keys' : `key ${place.key}`;
  const found = place.keyFound === undefined ? 'another type of value' : `a ${place.keyFound}`;
  const kept = place.keyHolds === undefined ? '' : `, where tsbeat keeps a ${place.keyHolds}`;
  return new BeatError(
    ErrorCode.RedisWrongType,
    `${at}: ${key} holds ${found}${kept} (${text}): something else wrote it. Inspect it (TYPE, DUMP), then delete it (DEL${place.key === undefined ? '' : ` ${place.key}`}) or give this deployment another name`,
    cause,
  );
}

/**
 * A WRONGTYPE names no key (and, raised in a script, names the script's hash instead): this asks
 * the server which of `keys` ([key, the type tsbeat keeps there]) holds another type and names it.
 * Any other failure comes back as `redisRefusal` makes it, or as it is.
 */
export async function nameWrongType(
  client: { type(key: string): Promise<string> },
  error: unknown,
  keys: readonly (readonly [string, string])[],
): Promise<unknown> {
  const place = placeOf(client);
  const inner = innermost(error);
  if (!(inner instanceof Error) || !/\bWRONGTYPE\b/.test(inner.message)) return asRedisError(error, place);
  for (const [key, holds] of keys) {
    const type = await client.type(key).catch(() => 'none');
    if (type !== holds && type !== 'none') return redisRefusal(inner, { ...place, key, keyHolds: holds, keyFound: type });
  }
  return asRedisError(error, place);
}

/**
 * The refusal in `error` (itself or its cause) that makes publishing impossible for this instance
 * as things are: the leader hands over rather than keep the lock and fail every publish.
 */
export function publishRefusal(error: unknown): BeatError | undefined {
  for (let e: unknown = error, depth = 0; e instanceof BeatError && depth < 3; e = e.cause, depth += 1) {
    if ((HAND_OVER_CODES as readonly string[]).includes(e.code)) return e;
  }
  return undefined;
}

const HAND_OVER_CODES = [
  ErrorCode.RedisWrongType,
  ErrorCode.RedisNoPerm,
  ErrorCode.RedisReadOnly,
  ErrorCode.RedisOom,
  ErrorCode.RedisAuth,
  ErrorCode.RedisDbOutOfRange,
  ErrorCode.BrokerRefused,
] as const;

/** `redisRefusal`, or the error as it is. */
export function asRedisError(error: unknown, place: RedisPlace): unknown {
  return redisRefusal(error, place) ?? error;
}

/**
 * Why a redlock attempt failed: the first refusal among the servers' votes against (redlock itself
 * only says "unable to achieve a quorum"), or undefined when there is none (held elsewhere,
 * unreachable).
 */
export async function lockRefusal(error: unknown): Promise<BeatError | undefined> {
  // Not redlock's: a refusal the lock attempt translated itself (the fence and leader write), or none.
  if (!(error instanceof ExecutionError)) return error instanceof BeatError && REFUSAL_CODES.has(error.code) ? error : undefined;
  const stats = await Promise.all(error.attempts).catch(() => []);
  for (const [client, vote] of stats.flatMap((s) => [...s.votesAgainst.entries()])) {
    if (vote instanceof ResourceLockedError) continue;
    const refusal = redisRefusal(vote, placeOf(client));
    if (refusal !== undefined) return refusal;
  }
  return undefined;
}
