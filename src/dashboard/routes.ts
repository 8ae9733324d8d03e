/**
 * The dashboard served by `beat run --http`: the page (`/`, `/ui/`), its assets, and its own JSON
 * API under /ui/api/. Its reads are guarded by the HTTP server's rule for everything that shows
 * entries (src/http/auth.ts), before they get here; every write needs a session opened with an API token, its CSRF token
 * in a header and, from a browser, this server's Origin. Writes go through the same Redis control
 * keys as `beat pause`, `beat resume` and `beat trigger`; runtime entries are created, changed and
 * deleted through the entries API the service hands over.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULTS } from '../base/defaults.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { uiAssetUrl } from '../base/package-files.js';
import { randomTaskId } from '../celery/task-id.js';
import type { ResolvedEntry } from '../config/resolve.js';
import { STORE_SOURCE, comingFires, definitionOf, messagePreview, timeline, writtenInFile } from './entry-detail.js';
import { SORT_KEYS, buildRows, queryRows } from './entry-rows.js';
import type { ResultIndex } from './entry-rows.js';
import { resultOf, runWire } from './run-results.js';
import type { LastState } from './run-results.js';
import { resultsOf, stripsOf } from './run-views.js';
import type { PageWire } from './wire.js';
import type { EntrySnapshot, Row, SortKey } from './entry-rows.js';
import { PAGE_HTML } from './page.js';
import { Refusal, readJson, sendBody, sendError, sendJson } from './replies.js';
import { Sessions, sameOrigin, tokensEqual } from './sessions.js';
import type { DetailWire, EntryStateName, OverviewWire } from './wire.js';
import { headerNoteProblem, noteProblem } from '../base/note-text.js';
import type { ChangeBy, DashboardSources } from './sources.js';
import { dashboardBackfill } from './backfill-action.js';

const ASSETS: Record<string, string> = {
  '/ui/app.js': 'text/javascript; charset=utf-8',
  '/ui/app.css': 'text/css; charset=utf-8',
};

function isLoopback(req: IncomingMessage): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
}

function parseQuery(params: URLSearchParams): Parameters<typeof queryRows>[1] {
  const int = (name: string, fallback: number, max: number): number => {
    const text = params.get(name);
    const n = text === null ? fallback : Number(text);
    if (!Number.isInteger(n) || n < 0 || n > max)
      throw new Refusal(400, 'bad_query', `${name}=${text}: expected a whole number from 0 to ${max}`);
    return n;
  };
  const sort = params.get('sort') ?? 'name';
  if (!(SORT_KEYS as readonly string[]).includes(sort))
    throw new Refusal(400, 'bad_query', `sort=${sort}: expected one of ${SORT_KEYS.join(', ')}`);
  const state = params.get('state') ?? '';
  if (state !== '' && !['active', 'paused', 'disabled', 'invalid'].includes(state)) {
    throw new Refusal(400, 'bad_query', `state=${state}: expected active, paused, disabled or invalid`);
  }
  return {
    q: params.get('q') ?? '',
    state: state === '' ? undefined : (state as EntryStateName),
    origin: params.get('origin') || undefined,
    queue: params.get('queue') || undefined,
    failing: params.get('failing') === '1',
    sort: sort as SortKey,
    descending: params.get('desc') === '1',
    offset: int('offset', 0, Number.MAX_SAFE_INTEGER),
    limit: int('limit', 100, DEFAULTS.dashboardPageMax),
  };
}

interface Built {
  readonly atMs: number;
  readonly snapshot: EntrySnapshot;
  readonly rows: Row[];
  readonly byName: Map<string, ResolvedEntry>;
  /** What the failing filter and the result sorts read of every entry: once per build, and only when a query asks. */
  failing?: Promise<ReadonlyMap<string, number>>;
  lastStates?: Promise<ReadonlyMap<string, LastState>>;
  successRates?: Promise<ReadonlyMap<string, number | null>>;
}

export class Dashboard {
  private readonly sessions: Sessions;
  private built: Promise<Built> | undefined;
  private builtAtMs = 0;
  private readonly assets = new Map<string, Buffer>();

  constructor(
    private readonly sources: DashboardSources,
    private readonly logger: Logger,
  ) {
    this.sessions = new Sessions(DEFAULTS.dashboardSessionTtlMs, DEFAULTS.dashboardMaxSessions, () => sources.now());
  }

  /** Who the request's live session belongs to (`dashboard:<token name>`), if it carries one. */
  sessionOf(req: IncomingMessage): string | undefined {
    return this.sessions.find(req)?.who;
  }

  /** Who changes what from the page (its session) and why: a note in the body, else the X-Beat-Note header. */
  private changeBy(req: IncomingMessage, bodyNote?: string): ChangeBy {
    const header = req.headers['x-beat-note'];
    let note = bodyNote;
    if (note === undefined && header !== undefined) {
      // The header is held to the same rule as the body's note and the CLI's --note.
      const problem = headerNoteProblem(header);
      if (problem !== undefined) throw new Refusal(400, 'bad_note', problem);
      note = decodeURIComponent(header as string);
    }
    return { who: this.sessionOf(req) ?? 'dashboard', note };
  }

  /** Answers the request if it is the dashboard's; false leaves it to the other routes. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path !== '/' && path !== '/ui' && !path.startsWith('/ui/')) return false;
    try {
      await this.route(req, res, path, url.searchParams);
    } catch (error) {
      // Anything else is answered by the server as every route's failure is: 503 with Retry-After
      // when Redis is away, else 500 with an error id in the log.
      if (error instanceof Refusal) sendError(res, error.status, error.code, error.message);
      else throw error;
    }
    return true;
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string, params: URLSearchParams): Promise<void> {
    const method = req.method ?? 'GET';
    const reading = method === 'GET' || method === 'HEAD';
    if (path === '/' || path === '/ui' || path === '/ui/') {
      if (!reading) throw new Refusal(405, 'method', 'use GET');
      sendBody(res, 200, 'text/html; charset=utf-8', PAGE_HTML);
      return;
    }
    const asset = ASSETS[path];
    if (asset !== undefined) {
      if (!reading) throw new Refusal(405, 'method', 'use GET');
      sendBody(res, 200, asset, await this.asset(path));
      return;
    }
    if (!path.startsWith('/ui/api/')) throw new Refusal(404, 'not_found', `no such page: ${path}`);
    const rest = path.slice('/ui/api/'.length);
    if (rest === 'login' && method === 'POST') return this.login(req, res);
    if (rest === 'logout' && method === 'POST') {
      sendJson(res, 200, { ok: true }, { 'set-cookie': this.sessions.close(req) });
      return;
    }
    if (reading) {
      this.requireReader(req);
      if (rest === 'overview') return sendJson(res, 200, await this.overview(req));
      if (rest === 'entries') return sendJson(res, 200, await this.page(parseQuery(params)));
      if (rest === 'strips') {
        const names = params.getAll('name');
        if (names.length > DEFAULTS.dashboardPageMax)
          throw new Refusal(
            400,
            'bad_query',
            `${names.length} names: ask for at most ${DEFAULTS.dashboardPageMax} entries' strips at once`,
          );
        const built = await this.build();
        return sendJson(res, 200, await stripsOf(this.sources, built.byName, names, params.get('span') === 'hour' ? 'hour' : 'day'));
      }
      if (rest === 'timeline') return sendJson(res, 200, await this.timeline(params.get('span') === 'day'));
      if (rest.startsWith('entries/')) {
        const fires = params.get('fires');
        const count = fires === null ? DEFAULTS.dashboardFires : Number(fires);
        if (!Number.isInteger(count) || count < 1 || count > DEFAULTS.dashboardFiresMax)
          throw new Refusal(400, 'bad_query', `fires=${fires}: expected a whole number from 1 to ${DEFAULTS.dashboardFiresMax}`);
        return sendJson(res, 200, await this.detail(decodeURIComponent(rest.slice('entries/'.length)), count));
      }
      throw new Refusal(404, 'not_found', `no such API: ${path}`);
    }
    this.requireWriter(req);
    const match = /^entries\/([^/]+)(?:\/(pause|resume|trigger|backfill))?$/.exec(rest);
    if (match === null) throw new Refusal(404, 'not_found', `no such API: ${method} ${path}`);
    const name = decodeURIComponent(match[1]!);
    const verb = match[2];
    if (verb === 'backfill' && method === 'POST') return this.backfill(req, res, name);
    if (verb !== undefined && method === 'POST') return this.control(res, name, verb as 'pause' | 'resume' | 'trigger', req);
    if (verb === undefined && (method === 'PUT' || method === 'DELETE')) return this.writeEntry(req, res, name, method);
    throw new Refusal(405, 'method', `${method} ${path}: not allowed`);
  }

  /** Off loopback, with a token configured, reading needs a session too: the schedule is not for everyone who can reach the port. */
  private requireReader(req: IncomingMessage): void {
    if (isLoopback(req) || this.sources.apiToken() === undefined) return;
    if (this.sessions.find(req) === undefined) throw new Refusal(401, 'login_required', 'log in with the API token to see this deployment');
  }

  private requireWriter(req: IncomingMessage): void {
    if (this.sources.apiToken() === undefined) {
      throw new Refusal(
        403,
        'actions_off',
        'actions are off: start beat run with --api-token-file PATH (or BEAT_API_TOKEN) to enable them',
      );
    }
    if (!sameOrigin(req)) throw new Refusal(403, 'bad_origin', `the request's Origin (${req.headers.origin}) is not this server`);
    if (this.sessions.find(req) === undefined) throw new Refusal(401, 'login_required', 'log in with the API token first');
    if (!this.sessions.authorizes(req)) throw new Refusal(403, 'bad_csrf', 'the x-csrf-token header is missing or wrong: reload the page');
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const expected = this.sources.apiToken();
    if (expected === undefined) {
      throw new Refusal(403, 'actions_off', 'no API token is configured: start beat run with --api-token-file PATH (or BEAT_API_TOKEN)');
    }
    if (!sameOrigin(req)) throw new Refusal(403, 'bad_origin', `the request's Origin (${req.headers.origin}) is not this server`);
    const body = await readJson(req);
    const token = typeof body === 'object' && body !== null ? (body as { token?: unknown }).token : undefined;
    const client = req.socket.remoteAddress;
    const name =
      typeof token !== 'string'
        ? undefined
        : this.sources.writeTokenName !== undefined
          ? this.sources.writeTokenName(token)
          : tokensEqual(token, expected)
            ? 'api'
            : undefined;
    if (name === undefined) {
      this.logger.warn({ event: EVENTS.dashboardLogin, ok: false, client }, 'dashboard login refused: wrong API token');
      throw new Refusal(401, 'bad_token', 'wrong API token (or one that may only read)');
    }
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
    const { cookie, csrf } = this.sessions.open(secure, `dashboard:${name}`);
    this.logger.info({ event: EVENTS.dashboardLogin, ok: true, client, who: `dashboard:${name}` }, 'dashboard login');
    sendJson(res, 200, { csrf }, { 'set-cookie': cookie });
  }

  private async control(res: ServerResponse, name: string, verb: 'pause' | 'resume' | 'trigger', req: IncomingMessage): Promise<void> {
    const note = noteOfBody(await readJson(req));
    const built = await this.build(true);
    if (!built.byName.has(name)) throw new Refusal(404, 'unknown_entry', `no entry "${name}" runs in this deployment`);
    const nowMs = this.sources.now();
    this.logger.info(
      { event: EVENTS.dashboardAction, action: verb, entry: name, client: req.socket.remoteAddress },
      `dashboard: ${verb} ${name}`,
    );
    if (verb !== 'trigger') {
      const changed = await this.sources.control.setPaused(name, verb === 'pause', nowMs, this.changeBy(req, note));
      this.built = undefined;
      sendJson(res, 200, { entry: name, paused: verb === 'pause', changed });
      return;
    }
    const id = randomTaskId();
    await this.sources.control.requestTrigger(
      { entry: name, id, at: nowMs, ...(note === undefined ? {} : { note }) },
      this.changeBy(req, note),
    );
    const deadline = performance.now() + DEFAULTS.dashboardTriggerWaitMs;
    let published = false;
    while (!published && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      published = await this.sources.control.wasTriggered(id);
    }
    this.built = undefined;
    // Not seen within the wait: the request stays queued for the leader (there may be none now).
    sendJson(res, published ? 200 : 202, { entry: name, taskId: id, published });
  }

  /** A backfill from the entry's page (backfill-action.ts). */
  private async backfill(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const answer = await dashboardBackfill(this.sources, req, name, (note) => this.changeBy(req, note), this.logger);
    this.built = undefined;
    sendJson(res, answer.status, answer.body);
  }

  private async writeEntry(req: IncomingMessage, res: ServerResponse, name: string, method: 'PUT' | 'DELETE'): Promise<void> {
    const api = this.sources.entriesApi;
    if (api === undefined) throw new Refusal(501, 'no_entries_api', 'runtime entries cannot be edited on this server');
    const body = method === 'PUT' ? await readJson(req) : undefined;
    this.logger.info(
      { event: EVENTS.dashboardAction, action: method, entry: name, client: req.socket.remoteAddress },
      `dashboard: ${method} ${name}`,
    );
    const by = this.changeBy(req);
    const answer = method === 'PUT' ? await api.put(name, body, by) : await api.remove(name, by);
    this.built = undefined;
    sendJson(res, answer.status, answer.body);
  }

  private async overview(req: IncomingMessage): Promise<OverviewWire> {
    const [built, deployment] = await Promise.all([this.build(), this.sources.deployment()]);
    const counts = { entries: built.rows.length, active: 0, paused: 0, disabled: 0, invalid: 0 };
    for (const row of built.rows) counts[row.state] += 1;
    const hasToken = this.sources.apiToken() !== undefined;
    const session = hasToken ? this.sessions.find(req) : undefined;
    return {
      deployment: deployment.deployment,
      version: this.sources.version,
      nowMs: this.sources.now(),
      self: { instance: this.sources.instanceId, role: deployment.role },
      leader: deployment.leader,
      lockExpiresInMs: deployment.lockExpiresInMs,
      replicas: deployment.replicas,
      redis: deployment.redis,
      broker: deployment.broker,
      warnings: deployment.warnings,
      counts,
      actions: !hasToken ? 'off' : session === undefined ? 'login' : 'on',
      csrf: session?.csrf ?? null,
      entriesApi: this.sources.entriesApi !== undefined,
    };
  }

  /**
   * A page of the list: only its rows' results are read. The failing filter reads the failures
   * hash (an index of the failing entries), the result sort every entry's finished summary in
   * HSCAN batches; the success sort every kept history, so only up to dashboardSuccessSortMax entries.
   */
  private async page(query: ReturnType<typeof parseQuery>): Promise<PageWire> {
    const built = await this.build();
    const empty = new Map<never, never>();
    let index: ResultIndex = {};
    if (query.failing)
      index = {
        ...index,
        failing: await (built.failing ??= this.sources.failureStreaks?.().then((m) => m ?? empty) ?? Promise.resolve(empty)),
      };
    if (query.sort === 'result')
      index = {
        ...index,
        lastStates: await (built.lastStates ??= this.sources.lastStates?.().then((m) => m ?? empty) ?? Promise.resolve(empty)),
      };
    if (query.sort === 'success') {
      if (built.byName.size > DEFAULTS.dashboardSuccessSortMax)
        throw new Refusal(
          400,
          'too_many_to_sort',
          `sort=success reads every entry's kept history: at most ${DEFAULTS.dashboardSuccessSortMax} entries, this deployment has ${built.byName.size}; sort by result or use the failing filter`,
        );
      built.successRates ??= resultsOf(this.sources, built.byName, [...built.byName.keys()]).then(
        (all) => new Map([...(all ?? empty)].map(([name, r]) => [name, r.successRate])),
      );
      index = { ...index, successRates: await built.successRates };
    }
    const page = queryRows(built.rows, query, built.snapshot.nowMs, index);
    const results = await resultsOf(
      this.sources,
      built.byName,
      page.rows.map((r) => r.name),
    );
    if (results === undefined) return page;
    return { ...page, rows: page.rows.map((r) => ({ ...r, result: results.get(r.name) ?? null })) };
  }

  private async detail(name: string, fireCount: number): Promise<DetailWire> {
    const built = await this.build();
    const row = built.rows.find((r) => r.name === name);
    if (row === undefined) throw new Refusal(404, 'unknown_entry', `no entry "${name}" in this deployment`);
    const { haystack: _h, ...rest } = row;
    const entry = built.byName.get(name);
    const nowMs = this.sources.now();
    const [runs, finished] =
      entry === undefined
        ? [undefined, undefined]
        : await Promise.all([this.sources.runs?.([name], DEFAULTS.runHistoryLength), this.sources.finished?.([name])]);
    const records = runs?.get(name) ?? [];
    const zone = entry?.timezone ?? 'UTC';
    const deployment = built.snapshot.config.name;
    const result = runs === undefined ? null : resultOf(records, zone, finished?.get(name));
    const stored = row.origin === 'store' && this.sources.entriesApi !== undefined ? await this.sources.entriesApi.stored(name) : undefined;
    const fromSource =
      row.origin === 'redbeat' || row.origin === 'django' ? ((await this.sources.written?.(name, row.origin)) ?? null) : null;
    return {
      row: { ...rest, result },
      definition: entry === undefined ? {} : definitionOf(entry),
      fires: entry === undefined || row.nextMs === null ? [] : comingFires(entry, row.nextMs, fireCount),
      message:
        entry === undefined
          ? { error: 'an invalid entry has no message' }
          : messagePreview(entry, built.snapshot.config, this.sources.messageEnv, row.nextMs ?? nowMs, nowMs),
      history: runs === undefined ? null : records.map((r) => runWire(r, deployment, name, zone)),
      result,
      written:
        row.origin === 'file'
          ? writtenInFile(built.snapshot.config, name)
          : stored !== undefined
            ? { source: STORE_SOURCE, definition: stored }
            : fromSource,
      editable: row.origin === 'store' && this.sources.entriesApi !== undefined,
      ...(stored === undefined ? {} : { stored }),
    };
  }

  private async timeline(day: boolean): Promise<ReturnType<typeof timeline>> {
    const built = await this.build();
    const minute = 60_000;
    const startMs = Math.floor(this.sources.now() / minute) * minute;
    return timeline(built.rows, built.byName, startMs, day ? 1440 * minute : 60 * minute, minute);
  }

  /** The rows, built at most every dashboardRowsCacheMs (or now, `fresh`, before an action checks a name). */
  private build(fresh = false): Promise<Built> {
    const nowMs = performance.now();
    if (this.built === undefined || fresh || nowMs - this.builtAtMs > DEFAULTS.dashboardRowsCacheMs) {
      this.builtAtMs = nowMs;
      const building = this.sources.snapshot().then((snapshot) => ({
        atMs: nowMs,
        snapshot,
        rows: buildRows(snapshot),
        byName: new Map(snapshot.entries.map((e) => [e.name, e])),
      }));
      // A failed build is not kept: the next request tries again.
      building.catch(() => {
        if (this.built === building) this.built = undefined;
      });
      this.built = building;
    }
    return this.built;
  }

  private async asset(path: string): Promise<Buffer> {
    let body = this.assets.get(path);
    if (body === undefined) {
      try {
        body = await readFile(uiAssetUrl(path.slice('/ui/'.length)));
      } catch (error) {
        throw new Refusal(404, 'no_asset', `${path} is not built: run npm run build (${errorMessage(error)})`);
      }
      this.assets.set(path, body);
    }
    return body;
  }
}

/** A pause, resume or trigger's optional body `{"note": TEXT}`: the note, checked (400 when it cannot be one). */
function noteOfBody(body: unknown): string | undefined {
  if (body === null) return undefined;
  const note = typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>)['note'] : undefined;
  if (
    typeof body !== 'object' ||
    Array.isArray(body) ||
    Object.keys(body).some((k) => k !== 'note') ||
    (note !== undefined && typeof note !== 'string')
  )
    throw new Refusal(400, 'bad_body', 'the body is empty or {"note": "why, in one line"}');
  if (note === undefined) return undefined;
  const problem = noteProblem(note);
  if (problem !== undefined) throw new Refusal(400, 'bad_note', `note: ${problem}`);
  return note;
}
