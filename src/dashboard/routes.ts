/**
 * The dashboard served by `beat run --http`: the page (`/`, `/ui/`), its assets, its logins, and
 * the read models /api has not (the overview, the list's pages, the day strips, the timeline and
 * an entry's page) under /ui/api/. Its reads are guarded by the HTTP server's rule for everything
 * that shows entries (src/http/auth.ts), before they get here. The page changes nothing here: it
 * calls /api/* (every verb, once) with the session opened by its login (an API token, or a single
 * sign-on: oidc-sign-in.ts), which /api takes as a credential, with the session's grants, once the
 * request sends the session's CSRF token back from this server's Origin.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { DEFAULTS } from '../base/defaults.js';
import { ErrorCode, errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { uiAssetUrl } from '../base/package-files.js';
import { retryPolicyOf } from '../config/retry-schema.js';
import type { Grant } from '../core/grants.js';
import { grantsText } from '../core/grants.js';
import { plain, reply } from '../http/answers.js';
import type { ApiEnv } from '../http/api-ports.js';
import { isLoopback } from '../http/auth.js';
import { ApiError } from '../http/failures.js';
import { readJsonBody } from '../http/request-body.js';
import { readStop } from '../operations/control-verbs.js';
import { STORE_SOURCE, comingFires, definitionOf, messagePreview, timeline, writtenInFile } from './entry-detail.js';
import { RUN_SORTS, buildIndex, pageOf, pageRow, readableIndex, stateOf } from './entry-rows.js';
import type { EntrySet, ResultIndex, RowIndex, RowQuery, RunColumns } from './entry-rows.js';
import { parseQuery } from './list-query.js';
import { OidcSignIn } from './oidc-sign-in.js';
import type { SignedIn } from './oidc-sign-in.js';
import { PAGE_HTML } from './page.js';
import { dashboardHeaders } from './replies.js';
import { resultOf, slotWires } from './run-results.js';
import { resultsOf, stripsOf } from './run-views.js';
import { Sessions, sameOrigin, tokenDigest, tokensEqual } from './sessions.js';
import type { FoundSession } from './sessions.js';
import type { DashboardSources } from './sources.js';
import type { DetailWire, OverviewWire, PageWire, SessionWire } from './wire.js';

/** A dashboard login lasts this long after its last use (sliding), then the page asks for the token again. */
const DASHBOARD_SESSION_TTL_MS = 8 * 3_600_000;
/** Dashboard sessions one process holds at most; past it the oldest goes (each login needs the token anyway). */
const DASHBOARD_MAX_SESSIONS = 1000;
/**
 * The dashboard's reads of every entry (the failures hash, the finished summaries, the run columns
 * of the next/last/runs sorts) are kept this long: a page load and its live refresh read them once.
 * The list's own rows are kept until the entries change.
 */
const DASHBOARD_ALL_READS_CACHE_MS = 2000;
/** Largest login body read: `{"token": TEXT}`. */
const LOGIN_BODY_MAX_BYTES = 16 * 1024;
/** Next fires an entry's page lists at first; its full list (`?fires=N`) holds at most DASHBOARD_FIRES_MAX. */
const DASHBOARD_FIRES = 20;
const DASHBOARD_FIRES_MAX = 1000;
/** The list's sort by success rate reads every entry's kept history: offered up to this many entries. */
const DASHBOARD_SUCCESS_SORT_MAX = 10_000;

/** The page's assets, by path, and their types. */
const ASSETS: Record<string, string> = {
  '/ui/app.js': 'text/javascript; charset=utf-8',
  '/ui/app.css': 'text/css; charset=utf-8',
};
/** The page's own paths: another method than GET there is 405. */
const PAGES = new Set(['/', '/ui', '/ui/', '/ui/session', '/ui/sign-in', '/ui/callback', ...Object.keys(ASSETS)]);
const ENTRY_PATH = '/ui/api/entries/';

/** Served over TLS: the cookies get Secure. */
function isSecure(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}

/** A request's query parameters, as the list and its filters read them. */
function paramsOf(c: Context<ApiEnv>): URLSearchParams {
  return new URL(c.req.url).searchParams;
}

/** A redirect (a sign-in's way out and back), with the cookies it sets. */
function seeOther(location: string, ...cookies: string[]): Response {
  const headers = new Headers({ location, 'cache-control': 'no-store' });
  for (const cookie of cookies) headers.append('set-cookie', cookie);
  return new Response(null, { status: 303, headers });
}

/** A read of every entry, kept for DASHBOARD_ALL_READS_CACHE_MS (one page load and its refresh read it once). */
interface AllRead<T> {
  readonly atMs: number;
  readonly value: Promise<T>;
}

export class Dashboard {
  private readonly sessions: Sessions;
  /** The list's index, and the entry set it was made of: made again only when the service hands over another. */
  private indexed: { readonly set: EntrySet; readonly index: Promise<RowIndex> } | undefined;
  private readonly allReads = new Map<string, AllRead<unknown>>();
  private readonly assets = new Map<string, string>();

  constructor(
    private readonly sources: DashboardSources,
    private readonly logger: Logger,
    /** Single sign-on (auth.oidc), when the config has it at start. */
    private readonly signIn?: OidcSignIn,
  ) {
    this.sessions = new Sessions(DASHBOARD_SESSION_TTL_MS, DASHBOARD_MAX_SESSIONS, () => sources.now());
  }

  /** Whether the page can act: an API token that may write is configured, or single sign-on. */
  private actionsOn(): boolean {
    return this.sources.apiToken() !== undefined || this.signIn?.configured() === true;
  }

  /**
   * The request's live session, if it carries one: who it belongs to (`dashboard:<token name>`,
   * `sso:<subject> <e-mail>`), the grants it holds (a signed-in person's from auth.oidc.roles; a
   * token's session is decided on its token's), and why it may not write, if it may not: no token
   * that may write nor sign-on is configured any more, the request comes from another Origin, or it
   * does not send the session's CSRF token back; or why it may not write now (`writeUnavailable`:
   * the identity provider did not answer the sign-in's last recheck).
   */
  sessionOf(req: IncomingMessage): { who: string; grants: readonly Grant[]; writeRefusal?: string; writeUnavailable?: string } | undefined {
    const session = this.live(req);
    if (session === undefined) return undefined;
    const held = { who: session.holder.who, grants: session.grants };
    if (session.unverified) {
      return {
        ...held,
        writeUnavailable: `the identity provider of auth.oidc cannot be reached to check the sign-in of ${held.who} again: its changes are refused until it answers (reads go on; API tokens still work)`,
      };
    }
    if (!this.actionsOn())
      return {
        ...held,
        writeRefusal:
          'actions are off: start beat run with --api-token-file PATH (or BEAT_API_TOKEN), or configure auth.oidc, to enable them',
      };
    if (!sameOrigin(req)) return { ...held, writeRefusal: `the request's Origin (${req.headers.origin}) is not this server` };
    if (!this.sessions.authorizes(req)) return { ...held, writeRefusal: 'the x-csrf-token header is missing or wrong: reload the page' };
    return held;
  }

  /**
   * The request's session with its grants as they are now: a token's, as the tokens file has the
   * token it was opened with; a signed-in person's, as auth.oidc.roles maps their claim now. A
   * session whose token is gone (removed, or its name given another secret) or whose claim maps to
   * nothing any more is ended here, so that the request finds none: it never falls back to reading
   * the whole deployment.
   */
  private live(req: IncomingMessage): (FoundSession & { readonly grants: readonly Grant[] }) | undefined {
    const session = this.sessions.find(req);
    if (session === undefined) return undefined;
    const { holder } = session;
    const grants =
      holder.tokenDigest !== undefined
        ? this.sources.tokenGrants?.(holder.tokenDigest)
        : holder.claims !== undefined
          ? this.signIn?.grantsNow(holder.claims.values)
          : holder.grants;
    if (grants === undefined || grants.length === 0) {
      this.sessions.end(session.id);
      this.logger.info(
        { event: EVENTS.dashboardSessionEnded, who: holder.who },
        `session of ${holder.who} ended: its token is no longer configured, or its claim maps to no grant now`,
      );
      return undefined;
    }
    return { ...session, grants };
  }

  /**
   * Before a request that carries a signed-in session is answered: whether the identity provider
   * still stands by the sign-in, asked at most every auth.oidc.recheckSeconds (sessions.ts). A
   * revoked one is ended here, so that the request finds no session (401).
   */
  async recheck(req: IncomingMessage): Promise<void> {
    const signIn = this.signIn;
    if (signIn === undefined) return;
    await this.sessions.recheck(req, signIn.recheckMs(), (holder, accessToken) => signIn.standing(holder, accessToken));
  }

  /**
   * The dashboard's routes, mounted on the HTTP server's one app (http/api-app.ts), which checked the
   * request's target and held its reads that show entries to the read rule before they get here.
   * What they show is narrowed to the caller's grants (`c.var.grants`: its token's, its session's,
   * or a viewer of the whole deployment let in by the read rule).
   */
  routes(): Hono<ApiEnv> {
    const ui = new Hono<ApiEnv>();
    ui.use('/', dashboardHeaders);
    ui.use('/ui/*', dashboardHeaders);
    const page = () => plain(200, 'text/html; charset=utf-8', PAGE_HTML);
    for (const path of ['/', '/ui', '/ui/']) ui.get(path, page);
    for (const [path, type] of Object.entries(ASSETS)) ui.get(path, async () => plain(200, type, await this.asset(path)));
    ui.get('/ui/session', (c) => reply(200, this.sessionWire(c.env.incoming)));
    ui.get('/ui/sign-in', (c) => this.beginSignIn(c.env.incoming));
    ui.get('/ui/callback', (c) => this.finishSignIn(c.env.incoming, paramsOf(c)));
    ui.post('/ui/api/login', (c) => this.login(c.env.incoming));
    ui.post('/ui/api/logout', (c) => reply(200, { ok: true }, { 'set-cookie': this.sessions.close(c.env.incoming) }));

    ui.get('/ui/api/*', async (c, next) => {
      this.requireReader(c.env.incoming);
      await next();
    });
    const readable = async (c: Context<ApiEnv>) => readableIndex(await this.index(), c.var.grants);
    ui.get('/ui/api/overview', async (c) => reply(200, await this.overview(c.env.incoming, await readable(c), await this.index())));
    ui.get('/ui/api/entries', async (c) => reply(200, await this.page(parseQuery(paramsOf(c)), await readable(c))));
    ui.get('/ui/api/strips', async (c) => {
      const params = paramsOf(c);
      const names = params.getAll('name');
      if (names.length > DEFAULTS.dashboardPageMax)
        throw new ApiError(
          ErrorCode.ApiBadRequest,
          `${names.length} names: ask for at most ${DEFAULTS.dashboardPageMax} entries' strips at once`,
        );
      const span = params.get('span') === 'hour' ? 'hour' : 'day';
      return reply(200, await stripsOf(this.sources, (await readable(c)).entries, names, span));
    });
    ui.get('/ui/api/timeline', async (c) => reply(200, await this.timeline(c.req.query('span') === 'day', await readable(c))));
    ui.get(`${ENTRY_PATH}*`, async (c) => {
      const fires = c.req.query('fires');
      const count = fires === undefined ? DASHBOARD_FIRES : Number(fires);
      if (!Number.isInteger(count) || count < 1 || count > DASHBOARD_FIRES_MAX)
        throw new ApiError(ErrorCode.ApiBadRequest, `fires=${fires}: expected a whole number from 1 to ${DASHBOARD_FIRES_MAX}`);
      // The name as sent, percent-decoded once (it may hold a slash).
      const name = decodeURIComponent(new URL(c.req.url).pathname.slice(ENTRY_PATH.length));
      return reply(200, await this.detail(name, count, await readable(c)));
    });

    ui.all('/', () => {
      throw new ApiError(ErrorCode.ApiMethodNotAllowed, 'use GET', { allow: 'GET, HEAD' });
    });
    ui.all('/ui/*', (c) => {
      const req = c.env.incoming;
      const { path } = c.req;
      const reading = req.method === 'GET' || req.method === 'HEAD';
      if (!path.startsWith('/ui/api/')) {
        if (!reading && PAGES.has(path)) throw new ApiError(ErrorCode.ApiMethodNotAllowed, 'use GET', { allow: 'GET, HEAD' });
        throw new ApiError(ErrorCode.ApiNotFound, `no such page: ${path}`);
      }
      if (reading) throw new ApiError(ErrorCode.ApiNotFound, `no such API: ${path}`);
      // Every change is /api's: the page calls it with its session. A write here is still refused as
      // the dashboard's write routes refused it (actions off, another Origin, no session, no CSRF
      // token), so that no caller learns more from the moved route than it did before; then 405.
      this.requireWriter(req);
      const signs = path === '/ui/api/login' || path === '/ui/api/logout';
      throw new ApiError(
        ErrorCode.ApiMethodNotAllowed,
        `${req.method} ${path}: the dashboard's API only reads; changes are /api's (/api/openapi.json)`,
        { allow: signs ? 'POST' : 'GET, HEAD' },
      );
    });
    return ui;
  }

  /** A write's refusal as the session decides it (sessionOf): 401 without a session, 403 naming why it may not write. */
  private requireWriter(req: IncomingMessage): void {
    const session = this.sessionOf(req);
    if (session === undefined) throw new ApiError(ErrorCode.LoginRequired, 'log in (or sign in) first');
    if (session.writeRefusal !== undefined) throw new ApiError(ErrorCode.ApiForbidden, session.writeRefusal);
  }

  /** Off loopback, with a token or sign-on configured, reading needs a session too: the schedule is not for everyone who can reach the port. */
  private requireReader(req: IncomingMessage): void {
    if (isLoopback(req.socket.remoteAddress) || !this.actionsOn()) return;
    if (this.live(req) === undefined) throw new ApiError(ErrorCode.LoginRequired, 'log in (or sign in) to see this deployment');
  }

  private async login(req: IncomingMessage): Promise<Response> {
    const expected = this.sources.apiToken();
    if (expected === undefined) {
      throw new ApiError(
        ErrorCode.ApiForbidden,
        'no API token is configured: start beat run with --api-token-file PATH (or BEAT_API_TOKEN)',
      );
    }
    if (!sameOrigin(req)) throw new ApiError(ErrorCode.ApiForbidden, `the request's Origin (${req.headers.origin}) is not this server`);
    // Of any declared type: a fetch() of a JSON string, without a Content-Type, sends text/plain.
    const body = await readJsonBody(req, LOGIN_BODY_MAX_BYTES, 2, undefined, { anyType: true });
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
      throw new ApiError(ErrorCode.ApiUnauthorized, 'wrong API token (or one that may only read)');
    }
    const secure = isSecure(req);
    const { cookie, csrf } = this.sessions.open(secure, { who: `dashboard:${name}`, tokenDigest: tokenDigest(token as string) });
    this.logger.info({ event: EVENTS.dashboardLogin, ok: true, client, who: `dashboard:${name}` }, 'dashboard login');
    return reply(200, { csrf }, { 'set-cookie': cookie });
  }

  /** How this browser may get in (a token's login, a sign-in) and who it is in as (`GET /ui/session`, and the overview's). */
  private sessionWire(req: IncomingMessage): SessionWire {
    const on = this.actionsOn();
    const session = on ? this.live(req) : undefined;
    return {
      actions: !on ? 'off' : session === undefined ? 'login' : 'on',
      signIn: this.signIn?.configured() === true,
      login: this.sources.apiToken() !== undefined,
      who: session?.holder.who ?? null,
      grants: session === undefined ? null : grantsText(session.grants),
    };
  }

  /** `GET /ui/sign-in`: off to the identity provider (oidc-sign-in.ts). */
  private async beginSignIn(req: IncomingMessage): Promise<Response> {
    const { location, cookie } = await this.signedInWith().begin(isSecure(req));
    return seeOther(location, cookie);
  }

  /**
   * `GET /ui/callback`: back from the identity provider; a session for the person (their grants from
   * auth.oidc.roles), then the page. A refusal says why (and forgets the sign-in's state).
   */
  private async finishSignIn(req: IncomingMessage, params: URLSearchParams): Promise<Response> {
    const signIn = this.signedInWith();
    let signedIn: SignedIn;
    try {
      signedIn = await signIn.finish(req, params);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      throw new ApiError(error.code, error.message, { ...error.headers, 'set-cookie': OidcSignIn.clearCookie() });
    }
    const { cookie } = this.sessions.open(isSecure(req), signedIn.holder, signedIn.accessToken);
    return seeOther('/ui/', cookie, OidcSignIn.clearCookie());
  }

  private signedInWith(): OidcSignIn {
    if (this.signIn === undefined || !this.signIn.configured())
      throw new ApiError(
        ErrorCode.SsoOff,
        'single sign-on is not configured (auth.oidc in the config, read at start): log in with an API token',
      );
    return this.signIn;
  }

  /** The overview of what `index` (the session's readable index of `all`) holds. */
  private async overview(req: IncomingMessage, index: RowIndex, all: RowIndex): Promise<OverviewWire> {
    const [deployment, paused, stop, groups] = await Promise.all([
      this.sources.deployment(),
      this.sources.paused(),
      readStop(this.sources.control),
      this.sources.groups?.(all.set.entries) ?? [],
    ]);
    // A group's counts mix its entries' runs: shown only to a session that may read every one of them.
    const member = (group: string) => all.set.entries.filter((e) => e.concurrency?.group === group);
    const readable = index === all ? groups : groups.filter((g) => member(g.group).every((e) => index.entries.has(e.name)));
    // Counted from the index's totals and the paused set (small): no pass over the rows.
    let pausedCount = 0;
    for (const name of paused) {
      const row = index.byName.get(name);
      if (row !== undefined && stateOf(row, paused) === 'paused') pausedCount += 1;
    }
    const invalid = index.set.invalid.length;
    const entries = index.rows.length;
    const counts = {
      entries,
      active: entries - invalid - index.disabled - pausedCount,
      paused: pausedCount,
      disabled: index.disabled,
      invalid,
    };
    const { actions, signIn, login, who, grants } = this.sessionWire(req);
    const session = actions === 'on' ? this.live(req) : undefined;
    return {
      deployment: deployment.deployment,
      version: this.sources.version,
      nowMs: this.sources.now(),
      self: { instance: this.sources.instanceId, role: deployment.role },
      leader: deployment.leader,
      stopped: stop,
      lockExpiresInMs: deployment.lockExpiresInMs,
      replicas: deployment.replicas,
      redis: deployment.redis,
      broker: deployment.broker,
      warnings: deployment.warnings,
      counts,
      groups: readable,
      actions,
      csrf: session?.csrf ?? null,
      signIn,
      login,
      who,
      grants,
      entriesApi: this.sources.storedEntry !== undefined,
    };
  }

  /**
   * A page of the list: the index filtered and paged, and only the page's rows' status and results
   * read. The failing filter reads the failures hash (an index of the failing entries), the result
   * sort every entry's finished summary in HSCAN batches, the next/last/runs sorts every entry's run
   * columns (sliced); the success sort every kept history, so only up to DASHBOARD_SUCCESS_SORT_MAX entries.
   */
  private async page(query: RowQuery, index: RowIndex): Promise<PageWire> {
    const paused = await this.sources.paused();
    const empty = new Map<never, never>();
    let reads: ResultIndex = {};
    if (query.failing)
      reads = { ...reads, failing: await this.readAll('failing', async () => (await this.sources.failureStreaks?.()) ?? empty) };
    if (query.sort === 'result')
      reads = { ...reads, lastStates: await this.readAll('lastStates', async () => (await this.sources.lastStates?.()) ?? empty) };
    if (RUN_SORTS.has(query.sort)) reads = { ...reads, runs: await this.runColumns() };
    if (query.sort === 'success') {
      // Kept for every reader (readAll): read of the whole deployment's entries, whatever this reader's scope.
      const whole = await this.index();
      if (whole.entries.size > DASHBOARD_SUCCESS_SORT_MAX)
        throw new ApiError(
          ErrorCode.ApiBadRequest,
          `sort=success reads every entry's kept history: at most ${DASHBOARD_SUCCESS_SORT_MAX} entries, this deployment has ${whole.entries.size}; sort by result or use the failing filter`,
        );
      const successRates = await this.readAll('successRates', async () => {
        const all = await resultsOf(this.sources, whole.entries, [...whole.entries.keys()]);
        return new Map([...(all ?? empty)].map(([name, r]) => [name, r.successRate]));
      });
      reads = { ...reads, successRates };
    }
    const { wire, rows } = pageOf(index, query, paused, this.sources.now(), reads);
    const names = rows.map((r) => r.name);
    const [status, results] = await Promise.all([this.sources.status(names), resultsOf(this.sources, index.entries, names)]);
    return {
      ...wire,
      rows: rows.map((r) => ({ ...pageRow(r, status.get(r.name), paused), result: results?.get(r.name) ?? null })),
    };
  }

  private async detail(name: string, fireCount: number, index: RowIndex): Promise<DetailWire> {
    const indexed = index.byName.get(name);
    if (indexed === undefined) throw new ApiError(ErrorCode.UnknownEntry, `no entry "${name}" in this deployment`);
    const [paused, status] = await Promise.all([this.sources.paused(), this.sources.status([name])]);
    const row = pageRow(indexed, status.get(name), paused);
    const entry = index.entries.get(name);
    const nowMs = this.sources.now();
    const [runs, finished] =
      entry === undefined
        ? [undefined, undefined]
        : await Promise.all([this.sources.runs?.([name], DEFAULTS.runHistoryLength), this.sources.finished?.([name])]);
    const records = runs?.get(name) ?? [];
    const zone = entry?.timezone ?? 'UTC';
    const deployment = index.set.config.name;
    const result = runs === undefined ? null : resultOf(records, zone, finished?.get(name));
    const stored = row.origin === 'store' && this.sources.storedEntry !== undefined ? await this.sources.storedEntry(name) : undefined;
    const fromSource =
      row.origin === 'redbeat' || row.origin === 'django' ? ((await this.sources.written?.(name, row.origin)) ?? null) : null;
    return {
      row: { ...row, result },
      definition: entry === undefined ? {} : definitionOf(entry),
      fires: entry === undefined || row.nextMs === null ? [] : comingFires(entry, row.nextMs, fireCount),
      message:
        entry === undefined
          ? { error: 'an invalid entry has no message' }
          : messagePreview(entry, index.set.config, this.sources.messageEnv, row.nextMs ?? nowMs, nowMs),
      history:
        runs === undefined || entry === undefined
          ? null
          : slotWires(records, deployment, name, zone, retryPolicyOf(entry, index.set.config)?.attempts),
      result,
      written:
        row.origin === 'file'
          ? writtenInFile(index.set.config, name)
          : stored !== undefined
            ? { source: STORE_SOURCE, definition: stored }
            : fromSource,
      editable: row.origin === 'store' && this.sources.storedEntry !== undefined,
      ...(stored === undefined ? {} : { stored }),
    };
  }

  private async timeline(day: boolean, index: RowIndex): Promise<ReturnType<typeof timeline>> {
    const [paused, runs] = await Promise.all([this.sources.paused(), this.runColumns()]);
    const rows = index.rows.map((r) => ({ name: r.name, state: stateOf(r, paused), nextMs: runs.get(r.name)?.nextMs ?? null }));
    return timeline(rows, index.entries, this.sources.now(), (day ? 1440 : 60) * 60_000);
  }

  /**
   * The list's index of the entry set the service holds now: the one made before while the set is
   * the same object (nothing changed), else made again (in slices: see buildIndex).
   */
  private index(): Promise<RowIndex> {
    const set = this.sources.entrySet();
    if (this.indexed?.set !== set) {
      const index = buildIndex(set);
      // A failed build is not kept: the next request tries again.
      index.catch(() => {
        if (this.indexed?.index === index) this.indexed = undefined;
      });
      this.indexed = { set, index };
      this.allReads.clear();
    }
    return this.indexed.index;
  }

  /** A read of every entry, shared by the requests of DASHBOARD_ALL_READS_CACHE_MS (a failed one is not kept). */
  private readAll<T>(key: string, read: () => Promise<T>): Promise<T> {
    const nowMs = performance.now();
    const kept = this.allReads.get(key) as AllRead<T> | undefined;
    if (kept !== undefined && nowMs - kept.atMs <= DASHBOARD_ALL_READS_CACHE_MS) return kept.value;
    const value = read();
    value.catch(() => {
      if (this.allReads.get(key)?.value === value) this.allReads.delete(key);
    });
    this.allReads.set(key, { atMs: nowMs, value });
    return value;
  }

  private runColumns(): Promise<ReadonlyMap<string, RunColumns>> {
    return this.readAll('runs', () => this.sources.runColumns());
  }

  private async asset(path: string): Promise<string> {
    let body = this.assets.get(path);
    if (body === undefined) {
      try {
        body = await readFile(uiAssetUrl(path.slice('/ui/'.length)), 'utf8');
      } catch (error) {
        throw new ApiError(ErrorCode.ApiNotFound, `${path} is not built: run npm run build (${errorMessage(error)})`);
      }
      this.assets.set(path, body);
    }
    return body;
  }
}
