/**
 * `Entries` through `beat run --http`'s /api with a bearer token (docs/runtime-entries.md): the
 * server decides every read and change on the token's grants, so the token, not this process, is
 * the boundary: a scoped token's reads hold only its scope and its changes outside it are refused
 * (403 FORBIDDEN, nothing written), audited under the token's name with the grant used. A refusal's
 * `{error, code, problems?}` becomes the BeatError (ConfigError for ENTRY_INVALID, with every
 * problem) that the Redis path throws for the same mistake. Node's fetch; no dependency.
 */
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ConfigError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';
import type { EntryInput } from '../config/schema.js';
import type { AuditEventView } from '../control/audit-event-view.js';
import type { DeploymentStopView } from '../control/deployment-stop.js';
import type { EntryPlan } from '../control/entry-plan.js';
import type { EntryView } from '../control/entry-view-schema.js';
import { VERB_BODIES, verbRoute } from '../operations/verb-routes.js';
import type { VerbAnswer, VerbInput, VerbName } from '../operations/door.js';
import type { BackfillBody, BackfillResult, BackfillSlotsPage } from '../operations/backfill-verbs.js';
import type { DeploymentBrief, EntriesTransport, EntryRecord, SetOutcome } from './entries-transport.js';

export interface ApiConnectOptions {
  /** The address of `beat run --http`, such as http://beat.internal:9808 (its /api routes are under it). */
  readonly api: string;
  /** A token of its tokens file (--api-token-file): what the server decides every call on. Without one, only a trusted loopback client may read. */
  readonly token?: string;
  /** Give up on a call after this long. Default 30 s (a trigger waits up to 5 s on the server). */
  readonly timeoutMs?: number;
}

/** An entry as /api answers it: its times as ISO-8601 text. */
interface ApiEntry {
  readonly name: string;
  readonly entry: unknown;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly problems?: readonly ConfigProblem[];
}

const record = (e: ApiEntry): EntryRecord => ({
  name: e.name,
  entry: e.entry,
  version: e.version,
  createdAt: new Date(e.createdAt),
  updatedAt: new Date(e.updatedAt),
  ...(e.problems === undefined ? {} : { problems: e.problems }),
});

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** The API's refusal as the BeatError the Redis path throws for it. */
function refusal(status: number, text: string, what: string): BeatError {
  let body: { error?: unknown; code?: unknown; problems?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not the API's answer (a proxy's page): said with its status below.
  }
  const code = typeof body.code === 'string' && KNOWN_CODES.has(body.code) ? (body.code as ErrorCode) : undefined;
  const problems = Array.isArray(body.problems) ? (body.problems as ConfigProblem[]) : [];
  if (code === ErrorCode.EntryInvalid) return new ConfigError('the runtime entries', problems, code);
  if (code === undefined)
    return new BeatError(
      status >= 500 ? ErrorCode.RedisUnavailable : ErrorCode.Internal,
      `${what}: HTTP ${status}, not an answer of tsbeat's API: ${shown(text)}`,
    );
  return new BeatError(code, typeof body.error === 'string' ? body.error : `${what}: HTTP ${status}`);
}

/** Checks the address and the token, and reads the stop once: a wrong token rejects here with API_UNAUTHORIZED. */
export async function apiTransport(options: ApiConnectOptions): Promise<EntriesTransport> {
  let base: URL;
  try {
    base = new URL(options.api);
  } catch {
    throw new BeatError(
      ErrorCode.Usage,
      `Entries.connect: api ${shown(options.api)} is no URL: give beat run --http's address, such as http://127.0.0.1:9808`,
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new BeatError(ErrorCode.Usage, `Entries.connect: api ${shown(options.api)}: give an http:// or https:// address`);
  if (options.token !== undefined && !/^[\x21-\x7e]+$/.test(options.token))
    throw new BeatError(ErrorCode.Usage, 'Entries.connect: token must be the token of the tokens file (printable ASCII, no spaces)');
  const transport = new ApiTransport(base, options.token, options.timeoutMs ?? DEFAULTS.apiClientTimeoutMs);
  await transport.invoke('stop', {}, undefined);
  return transport;
}

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** How often a backfill's progress is read while the client waits past the server's own wait. */
const BACKFILL_POLL_MS = 250;

class ApiTransport implements EntriesTransport {
  constructor(
    private readonly base: URL,
    private readonly token: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  /** One call: the answer's status and JSON body; a refusal (any status of 400 and up but `allowed`) thrown as its BeatError. */
  private async call<T>(
    method: Method,
    path: string,
    options: { body?: unknown; note?: string; query?: Record<string, string | undefined>; allowed?: string; ifVersion?: number } = {},
  ): Promise<{ status: number; body: T | undefined; code?: string }> {
    const url = new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base : `${this.base.href}/`);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    // Percent-encoded, as the server reads it, so that a note may hold any text.
    if (options.note !== undefined) headers['x-beat-note'] = encodeURIComponent(options.note);
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.ifVersion !== undefined) headers['if-match'] = `"${options.ifVersion}"`;
    const what = `${method} ${url.pathname}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        // The API never redirects: one that does is not tsbeat's, and the token must not follow it.
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      // The server out of reach is what Redis out of reach is on the other path: try again.
      throw new BeatError(
        ErrorCode.RedisUnavailable,
        // fetch's own message is "fetch failed": the reason (ECONNREFUSED…) is its cause's.
        `cannot reach the API at ${this.base.origin} (${what}): ${errorMessage((error as { cause?: unknown }).cause ?? error)}; try again`,
        {
          cause: error,
        },
      );
    }
    const text = await response.text();
    if (response.status >= 400) {
      const error = refusal(response.status, text, what);
      if (error.code === options.allowed) return { status: response.status, body: undefined, code: error.code };
      throw error;
    }
    try {
      return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as T) };
    } catch (error) {
      throw new BeatError(ErrorCode.Internal, `${what}: HTTP ${response.status}, not an answer of tsbeat's API: ${shown(text)}`, {
        cause: error,
      });
    }
  }

  private entryPath(name: string, verb = ''): string {
    return `/api/entries/${encodeURIComponent(name)}${verb === '' ? '' : `/${verb}`}`;
  }

  async put(entries: readonly { name: string; entry: EntryInput; ifVersion?: number }[], note: string | undefined) {
    const [one] = entries;
    if (entries.length === 1 && one?.ifVersion !== undefined) {
      // Held to a version: the one route that takes If-Match (201 created, 200 updated).
      const { status, body } = await this.call<ApiEntry>('PUT', this.entryPath(one.name), {
        body: one.entry,
        note,
        ifVersion: one.ifVersion,
      });
      return { version: body?.version ?? 0, outcomes: [status === 201 ? ('created' as const) : ('updated' as const)] };
    }
    const body = Object.fromEntries(entries.map((e) => [e.name, e.entry]));
    const { body: answer } = await this.call<{ version: number; outcomes: Record<string, SetOutcome> }>('PUT', '/api/entries', {
      body,
      note,
    });
    return { version: answer?.version ?? 0, outcomes: entries.map((e) => answer?.outcomes[e.name] ?? 'unchanged') };
  }

  async get(name: string) {
    // Another team's entry is answered as one that does not exist.
    const { body } = await this.call<ApiEntry & { view?: EntryView | null }>('GET', this.entryPath(name), {
      allowed: ErrorCode.UnknownEntry,
    });
    return body === undefined ? undefined : record(body);
  }

  async list(options: { after?: string; limit?: number; selector?: string }) {
    // The server's pages hold only what the token may read (and what the selector selects): follow `next` until `limit` are had.
    const wanted = options.limit ?? Number.MAX_SAFE_INTEGER;
    const found: EntryRecord[] = [];
    let after = options.after;
    while (found.length < wanted) {
      const limit = String(Math.min(DEFAULTS.apiPageMax, wanted - found.length));
      const { body } = await this.call<{ entries: ApiEntry[]; next?: string }>('GET', '/api/entries', {
        query: { limit, after, selector: options.selector?.trim() === '' ? undefined : options.selector },
      });
      for (const entry of body?.entries ?? []) found.push(record(entry));
      if (body?.next === undefined) break;
      after = body.next;
    }
    return found;
  }

  async remove(name: string, keepHistory: boolean, note: string | undefined, ifVersion?: number) {
    const { code } = await this.call('DELETE', this.entryPath(name), {
      note,
      ifVersion,
      query: { keepHistory: String(keepHistory) },
      allowed: ErrorCode.UnknownEntry,
    });
    return code === undefined;
  }

  async plan(owner: string, entries: Readonly<Record<string, EntryInput>>, horizonMs: number) {
    const { body } = await this.call<EntryPlan>('POST', '/api/plan', { body: { owner, entries }, query: { horizon: `${horizonMs}ms` } });
    return body as EntryPlan;
  }

  async apply(owner: string, entries: Readonly<Record<string, EntryInput>>, planDigest: string | undefined, note: string | undefined) {
    const body = { owner, entries, ...(planDigest === undefined ? {} : { planDigest }) };
    return (await this.call<EntryPlan & { version: number }>('POST', '/api/apply', { body, note })).body as EntryPlan & { version: number };
  }

  /**
   * The verb's route (operations/verb-routes.ts VERB_ROUTES): its target in the path or the query, the
   * fields its body takes. The server waits up to 5 s for the leader (a shorter `waitMs` is sent),
   * then answers a run queued (left for the leader), not withdrawn; a selection's runs are answered queued.
   */
  async invoke<V extends VerbName>(verb: V, input: VerbInput<V>, note: string | undefined): Promise<VerbAnswer<V>> {
    const route = verbRoute(verb, input);
    const target = (input as { target?: Record<string, unknown> }).target ?? {};
    const path = route.path
      .replace('{name}', encodeURIComponent(String(target['entry'])))
      .replace('{id}', encodeURIComponent(String(target['id'])));
    const selector = target['selector'] as string | undefined;
    const waitMs = shorterWait((input as { waitMs?: number }).waitMs ?? Number.POSITIVE_INFINITY);
    const offered: Record<string, unknown> = { note, count: target['count'], waitMs };
    const fields = route.body === undefined ? [] : Object.keys(VERB_BODIES[route.body].shape);
    const body = Object.fromEntries(fields.filter((f) => offered[f] !== undefined).map((f) => [f, offered[f]]));
    const { body: answer } = await this.call<Record<string, unknown>>(route.method.toUpperCase() as Method, path, {
      ...(Object.keys(body).length === 0 ? {} : { body }),
      query: {
        selector,
        // The route's query fields (history's limit, the list's selector).
        ...Object.fromEntries(Object.keys(route.query?.shape ?? {}).map((key) => [key, queryText(input, key)])),
      },
    });
    if (route.one === true) return [answer] as VerbAnswer<V>;
    if (route.field === undefined) return answer as VerbAnswer<V>;
    const field = answer?.[route.field];
    // An older tsbeat answers a selection's trigger without its runs: said, not read as none.
    if (field === undefined)
      throw new BeatError(
        ErrorCode.Internal,
        `${route.method.toUpperCase()} ${path}: the answer has no "${route.field}"; is the server an older tsbeat?`,
      );
    return field as VerbAnswer<V>;
  }

  /** The server waits for the leader up to `waitMs` (5 s at most); past that, its progress is read until it is done or `waitMs` is over. */
  async backfill(name: string, body: BackfillBody, waitMs: number) {
    const deadline = performance.now() + waitMs;
    const shorter = body.dryRun === true ? undefined : shorterWait(waitMs);
    const asked = shorter === undefined ? body : { ...body, waitMs: shorter };
    let answer = (await this.call<BackfillResult | BackfillSlotsPage>('POST', this.entryPath(name, 'backfill'), { body: asked })).body;
    while (answer !== undefined && 'id' in answer && !answer.done && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, BACKFILL_POLL_MS));
      // No progress yet (UNKNOWN_ENTRY) while the request waits for the leader: it is still queued.
      const { body } = await this.call<BackfillResult>('GET', this.progressPath(name, answer.id), { allowed: ErrorCode.UnknownEntry });
      if (body !== undefined) answer = { ...answer, ...body };
    }
    return answer as BackfillResult | BackfillSlotsPage;
  }

  async backfillProgress(name: string, id: string) {
    return (await this.call<BackfillResult>('GET', this.progressPath(name, id))).body as BackfillResult;
  }

  /** A backfill request's progress route. */
  private progressPath(name: string, id: string): string {
    return `${this.entryPath(name, 'backfill')}/${encodeURIComponent(id)}`;
  }

  async audit(query: { limit?: number; before?: string; entry?: string }) {
    const { body } = await this.call<{ events: AuditEventView[] }>('GET', '/api/audit', {
      query: { limit: String(query.limit ?? DEFAULTS.auditPageDefault), before: query.before, entry: query.entry },
    });
    return body?.events ?? [];
  }

  async status(): Promise<DeploymentBrief> {
    type Page = {
      leader: DeploymentBrief['leader'];
      stopped?: DeploymentStopView;
      entries: { name: string; paused: boolean }[];
      next?: number;
    };
    const paused: string[] = [];
    let offset: number | undefined = 0;
    let first: Page | undefined;
    while (offset !== undefined) {
      const body: Page | undefined = (await this.call<Page>('GET', '/api/status', { query: { offset: String(offset) } })).body;
      first ??= body;
      for (const entry of body?.entries ?? []) if (entry.paused) paused.push(entry.name);
      offset = body?.next;
    }
    return { stopped: first?.stopped ?? null, leader: first?.leader ?? null, paused: paused.sort() };
  }

  version(): Promise<number> {
    return Promise.reject(
      new BeatError(
        ErrorCode.ApiNotFound,
        "the store's version is not served by /api: a write's answer has it (setMany, apply); connect with url for version()",
      ),
    );
  }

  async close(): Promise<void> {
    // Nothing held open: each call is its own request.
  }
}

/** An input's field as a query's text, if it has it. */
function queryText(input: object, key: string): string | undefined {
  const value = (input as Record<string, unknown>)[key];
  return value === undefined ? undefined : String(value);
}

/**
 * The `waitMs` a request asks the server for: only a wait shorter than the server's own (a wait
 * that is not a number, or a longer one, leaves it to the server's 5 s).
 */
function shorterWait(waitMs: number): number | undefined {
  return Number.isFinite(waitMs) && waitMs < DEFAULTS.dashboardTriggerWaitMs ? Math.max(0, Math.floor(waitMs)) : undefined;
}
