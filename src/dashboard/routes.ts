/**
 * The dashboard served by `beat run --http`: the page (`/`, `/ui/`), its assets, its logins, and
 * the read models /api has not (the overview, the list's pages, the day strips, the timeline and
 * an entry's page) under /ui/api/. Its reads are guarded by the HTTP server's rule for everything
 * that shows entries (src/http/auth.ts), before they get here. The page changes nothing here: it
 * calls /api/* (every verb, once) with the session opened by its login (an API token, or a single
 * sign-on: oidc-sign-in.ts), which /api takes as a credential, with the session's grants, once the
 * request sends the session's CSRF token back from this server's Origin.
 */
import { readStop } from '../operations/control-verbs.js';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULTS } from '../base/defaults.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { uiAssetUrl } from '../base/package-files.js';
import { STORE_SOURCE, comingFires, definitionOf, messagePreview, timeline, writtenInFile } from './entry-detail.js';
import { RUN_SORTS, buildIndex, pageOf, pageRow, readableIndex, stateOf } from './entry-rows.js';
import type { EntrySet, ResultIndex, RowIndex, RowQuery, RunColumns } from './entry-rows.js';
import { parseQuery } from './list-query.js';
import { resultOf, slotWires } from './run-results.js';
import { retryPolicyOf } from '../config/retry-schema.js';
import { resultsOf, stripsOf } from './run-views.js';
import type { PageWire } from './wire.js';
import { PAGE_HTML } from './page.js';
import { Refusal, readJson, sendBody, sendError, sendJson } from './replies.js';
import { Sessions, sameOrigin, tokenDigest, tokensEqual } from './sessions.js';
import type { FoundSession } from './sessions.js';
import { OidcSignIn } from './oidc-sign-in.js';
import type { SignedIn } from './oidc-sign-in.js';
import type { Grant } from '../core/grants.js';
import { VIEWER, grantsText } from '../core/grants.js';
import type { DetailWire, OverviewWire, SessionWire } from './wire.js';
import type { DashboardSources } from './sources.js';

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
/** Next fires an entry's page lists at first; its full list (`?fires=N`) holds at most DASHBOARD_FIRES_MAX. */
const DASHBOARD_FIRES = 20;
const DASHBOARD_FIRES_MAX = 1000;
/** The list's sort by success rate reads every entry's kept history: offered up to this many entries. */
const DASHBOARD_SUCCESS_SORT_MAX = 10_000;

const ASSETS: Record<string, string> = {
  '/ui/app.js': 'text/javascript; charset=utf-8',
  '/ui/app.css': 'text/css; charset=utf-8',
};

/** Served over TLS: the cookies get Secure. */
function isSecure(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}

function isLoopback(req: IncomingMessage): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
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
  private readonly assets = new Map<string, Buffer>();

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
   * Answers the request if it is the dashboard's; false leaves it to the other routes. Its reads
   * show only the entries `grants` (the caller's, as /api decides them) may read.
   */
  async handle(req: IncomingMessage, res: ServerResponse, grants: readonly Grant[] = VIEWER): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path !== '/' && path !== '/ui' && !path.startsWith('/ui/')) return false;
    try {
      await this.route(req, res, path, url.searchParams, grants);
    } catch (error) {
      // Anything else is answered by the server as every route's failure is: 503 with Retry-After
      // when Redis is away, else 500 with an error id in the log.
      if (error instanceof Refusal) sendError(res, error.status, error.code, error.message);
      else throw error;
    }
    return true;
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    params: URLSearchParams,
    grants: readonly Grant[],
  ): Promise<void> {
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
    if (path === '/ui/session') {
      if (!reading) throw new Refusal(405, 'method', 'use GET');
      return sendJson(res, 200, this.sessionWire(req));
    }
    if (path === '/ui/sign-in' || path === '/ui/callback') {
      if (!reading) throw new Refusal(405, 'method', 'use GET');
      return path === '/ui/sign-in' ? this.beginSignIn(req, res) : this.finishSignIn(req, res, params);
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
      const index = async () => readableIndex(await this.index(), grants);
      if (rest === 'overview') return sendJson(res, 200, await this.overview(req, await index(), await this.index()));
      if (rest === 'entries') return sendJson(res, 200, await this.page(parseQuery(params), await index()));
      if (rest === 'strips') {
        const names = params.getAll('name');
        if (names.length > DEFAULTS.dashboardPageMax)
          throw new Refusal(
            400,
            'bad_query',
            `${names.length} names: ask for at most ${DEFAULTS.dashboardPageMax} entries' strips at once`,
          );
        return sendJson(
          res,
          200,
          await stripsOf(this.sources, (await index()).entries, names, params.get('span') === 'hour' ? 'hour' : 'day'),
        );
      }
      if (rest === 'timeline') return sendJson(res, 200, await this.timeline(params.get('span') === 'day', await index()));
      if (rest.startsWith('entries/')) {
        const fires = params.get('fires');
        const count = fires === null ? DASHBOARD_FIRES : Number(fires);
        if (!Number.isInteger(count) || count < 1 || count > DASHBOARD_FIRES_MAX)
          throw new Refusal(400, 'bad_query', `fires=${fires}: expected a whole number from 1 to ${DASHBOARD_FIRES_MAX}`);
        return sendJson(res, 200, await this.detail(decodeURIComponent(rest.slice('entries/'.length)), count, await index()));
      }
      throw new Refusal(404, 'not_found', `no such API: ${path}`);
    }
    // Every change is /api's: the page calls it with its session. A write here is still refused as
    // the dashboard's write routes refused it (actions off, another Origin, no session, no CSRF token),
    // so that no caller learns more from the moved route than it did before; then 405.
    this.requireWriter(req);
    throw new Refusal(405, 'method', `${method} ${path}: the dashboard's API only reads; changes are /api's (/api/openapi.json)`);
  }

  /** A write's refusal as the session decides it (sessionOf): 401 without a session, 403 naming why it may not write. */
  private requireWriter(req: IncomingMessage): void {
    const session = this.sessionOf(req);
    if (session === undefined) throw new Refusal(401, 'login_required', 'log in (or sign in) first');
    if (session.writeRefusal !== undefined) throw new Refusal(403, 'write_refused', session.writeRefusal);
  }

  /** Off loopback, with a token or sign-on configured, reading needs a session too: the schedule is not for everyone who can reach the port. */
  private requireReader(req: IncomingMessage): void {
    if (isLoopback(req) || !this.actionsOn()) return;
    if (this.live(req) === undefined) throw new Refusal(401, 'login_required', 'log in (or sign in) to see this deployment');
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
    const secure = isSecure(req);
    const { cookie, csrf } = this.sessions.open(secure, { who: `dashboard:${name}`, tokenDigest: tokenDigest(token as string) });
    this.logger.info({ event: EVENTS.dashboardLogin, ok: true, client, who: `dashboard:${name}` }, 'dashboard login');
    sendJson(res, 200, { csrf }, { 'set-cookie': cookie });
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
  private async beginSignIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const signIn = this.signedInWith();
    const { location, cookie } = await signIn.begin(isSecure(req));
    res.writeHead(303, { location, 'set-cookie': cookie, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    res.end();
  }

  /**
   * `GET /ui/callback`: back from the identity provider; a session for the person (their grants from
   * auth.oidc.roles), then the page. A refusal says why (and forgets the sign-in's state).
   */
  private async finishSignIn(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): Promise<void> {
    const signIn = this.signedInWith();
    let signedIn: SignedIn;
    try {
      signedIn = await signIn.finish(req, params);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      sendJson(res, error.status, { error: error.message, code: error.code }, { 'set-cookie': OidcSignIn.clearCookie() });
      return;
    }
    const { cookie } = this.sessions.open(isSecure(req), signedIn.holder, signedIn.accessToken);
    res.writeHead(303, {
      location: '/ui/',
      'set-cookie': [cookie, OidcSignIn.clearCookie()],
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    });
    res.end();
  }

  private signedInWith(): OidcSignIn {
    if (this.signIn === undefined || !this.signIn.configured())
      throw new Refusal(
        404,
        'sso_off',
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
        throw new Refusal(
          400,
          'too_many_to_sort',
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
    if (indexed === undefined) throw new Refusal(404, 'unknown_entry', `no entry "${name}" in this deployment`);
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
