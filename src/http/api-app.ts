/**
 * The HTTP server's one router, on Hono (docs/design.md says why): the routes of api-routes.ts, each
 * behind its access rule (auth.ts), the request's target checked first and the dashboard's routes
 * tried before any (with the read rule on what shows entries). Every refusal and failure is answered
 * by one handler in one shape, `{error, code, problems}` (failures.ts); a path served for other
 * methods is 405 with Allow, read from the routes themselves. What a route does is its handler's
 * (api-ports.ts, implemented by the service); this module only speaks HTTP.
 */
import type { IncomingMessage } from 'node:http';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { headerNoteProblem, noteProblem } from '../base/note-text.js';
import { maskTarget } from '../base/redact.js';
import { VERSION } from '../base/version.js';
import { deploymentGrant, grantFor } from '../core/grants.js';
import type { ScopedEntry } from '../core/grants.js';
import { entrySeriesOnly } from '../observe/entry-series.js';
import { BODY_SCHEMAS, PLAN_BODY, ROUTES, planHorizonMs } from './api-routes.js';
import { VERB_BODIES, VERB_ROUTES, queryValue, stillQueued } from '../operations/verb-routes.js';
import { runVerb } from '../operations/door.js';
import type { VerbRoute } from '../operations/verb-routes.js';
import type { DeadLetterPick, VerbTarget } from '../operations/door.js';
import type { TriggerAnswer } from '../operations/control-verbs.js';
import { selectorOrThrow } from '../core/label-selector.js';
import type { RouteAccess } from './api-routes.js';
import type { ApiEnv, HttpHandlers, PlanRequest } from './api-ports.js';
import { authorizeMetrics, authorizeRead, authorizeWrite, callerOf, challenge } from './auth.js';
import type { Caller, HttpAccess } from './auth.js';
import { plain, reply } from './answers.js';
import { ApiError, failureAnswer } from './failures.js';
import { readJsonBody } from './request-body.js';

type Ctx = Context<ApiEnv>;

/** The one answer to a failure (logged when it is tsbeat's own or an outage): failures.ts's shape. */
export function failureResponse(error: unknown, req: Pick<IncomingMessage, 'url' | 'method'>, logger: Logger): Response {
  const answer = failureAnswer(error, req, logger);
  return reply(answer.status, answer.body, answer.headers);
}

/** The OpenAPI 3.1 document of ROUTES (served at /api/openapi.json; the build writes docs/openapi.json). */
export function apiDocument(): unknown {
  const described = new OpenAPIHono();
  for (const { route } of ROUTES) described.openAPIRegistry.registerPath(route);
  for (const [name, schema] of Object.entries(BODY_SCHEMAS)) {
    const made = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
    // A schema used twice (a canvas's signature) is a $def of its own document: a component here,
    // named after the body, and every reference to it pointed there.
    const {
      $schema: _,
      $defs = {},
      ...json
    } = JSON.parse(JSON.stringify(made).replaceAll('"#/$defs/', `"#/components/schemas/${name}.`)) as Record<string, unknown> & {
      $defs?: Record<string, object>;
    };
    described.openAPIRegistry.registerComponent('schemas', name, json);
    for (const [def, part] of Object.entries($defs)) described.openAPIRegistry.registerComponent('schemas', `${name}.${def}`, part);
  }
  return described.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'tsbeat',
      version: VERSION,
      description:
        'The HTTP API of `beat run --http` (docs/runtime-entries.md). Reads take a bearer token, or answer a trusted loopback client; writes need a token that may write.',
    },
  });
}

/** The request's target refused when Node would refuse it without a code, or too long, or badly encoded. */
function checkTarget(req: IncomingMessage): void {
  if (req.headers.host === undefined && req.httpVersion === '1.1') {
    // Node would answer this itself with a bare 400 (requireHostHeader): said here, with a code.
    throw new ApiError(ErrorCode.ApiBadRequest, 'an HTTP/1.1 request needs a Host header (RFC 9112)');
  }
  // Node keeps the first of several Host headers; a proxy in front may have judged the request by
  // another. RFC 9112 §3.2 says to answer 400, and the Host header decides who may read.
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === 'host') hosts += 1;
  if (hosts > 1) throw new ApiError(ErrorCode.ApiBadRequest, `the request has ${hosts} Host headers; send one (RFC 9112 §3.2)`);
  const target = req.url ?? '/';
  if (Buffer.byteLength(target) > DEFAULTS.httpMaxUrlBytes) {
    throw new ApiError(
      ErrorCode.ApiUriTooLong,
      `the request target is over ${DEFAULTS.httpMaxUrlBytes} bytes: send long values in the body`,
    );
  }
  const path = target.split('?')[0] ?? '';
  try {
    decodeURIComponent(path);
  } catch {
    throw new ApiError(
      ErrorCode.ApiBadRequest,
      `the path ${JSON.stringify(path.slice(0, 200))} is not valid percent-encoding (each % must start a %XX of UTF-8)`,
    );
  }
}

/**
 * `X-Beat-Note`: why the change is made, kept by the audit trail with it (percent-decoded, so that
 * it may hold any text). Held to the rule of the CLI's --note (base/note-text.ts): a note it
 * refuses is a 400 naming the header, and nothing is changed.
 */
function noteOf(req: IncomingMessage): string | undefined {
  const header = req.headers['x-beat-note'];
  if (header === undefined) return undefined;
  const problem = headerNoteProblem(header);
  if (problem !== undefined) throw new ApiError(ErrorCode.ApiBadRequest, problem);
  return decodeURIComponent(header as string);
}

/**
 * Largest request body the entries API reads (PUT /api/entries[/NAME]); a larger one is refused
 * with 413 before it is parsed. An entry is a few hundred bytes: this takes a bulk PUT of ~10,000.
 */
export const API_BODY_MAX_BYTES = 4 * 1024 * 1024;
/** A body of at most a note: `{"note": TEXT}`. */
const NOTE_BODY_MAX_BYTES = 4096;

/** The shapes of the verbs' bodies (operations/verb-routes.ts VERB_BODIES), as a refusal names them. */
const BODY_SHAPES: Readonly<Record<keyof typeof VERB_BODIES, string>> = {
  Note: '{"note"?: TEXT}',
  Selected: '{"note"?: TEXT, "count"?: N}',
  Trigger: '{"note"?: TEXT, "waitMs"?: MS}',
};

/**
 * A control verb's body: its note (the body's `note` when a JSON body is sent, or the X-Beat-Note
 * header, not both) and, on a selection, the `count` its confirmation named, on an entry's trigger
 * how long to wait for the leader (`waitMs`).
 */
async function controlBody(
  req: IncomingMessage,
  path: string,
  kind: keyof typeof VERB_BODIES,
): Promise<{ note?: string; count?: number; waitMs?: number }> {
  const header = noteOf(req);
  const hasBody = req.headers['content-type'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!hasBody) return header === undefined ? {} : { note: header };
  const shape = BODY_SHAPES[kind];
  const parsed = VERB_BODIES[kind].safeParse(await readJsonBody(req, NOTE_BODY_MAX_BYTES, 1));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const what =
      issue?.code === 'unrecognized_keys'
        ? `unknown field ${JSON.stringify(issue.keys[0])}`
        : issue?.path[0] === 'count'
          ? 'count must be a whole number of at least 1 (the entries the confirmation named)'
          : issue?.path[0] === 'waitMs'
            ? `waitMs must be a whole number of milliseconds from 0 to ${DEFAULTS.dashboardTriggerWaitMs}`
            : 'note must be a string (one line, why)';
    throw new ApiError(ErrorCode.ApiBadRequest, `${what}: the body of ${req.method ?? ''} ${path} is ${shape}`);
  }
  const { note, ...rest } = parsed.data;
  if (note === undefined) return header === undefined ? rest : { ...rest, note: header };
  if (header !== undefined) throw new ApiError(ErrorCode.ApiBadRequest, 'give the note in the body or in X-Beat-Note, not both');
  const problem = noteProblem(note);
  if (problem !== undefined) throw new ApiError(ErrorCode.ApiBadRequest, `note: ${problem}`);
  return { ...rest, note };
}

/**
 * `If-Match: "<version>"` (the ETag of a GET or PUT): the write applies only to that version of the
 * entry, so that a read-modify-write does not overwrite a change made meanwhile (412 if it would).
 * `"0"` means only if there is no such entry yet.
 */
function ifMatch(req: IncomingMessage): number | undefined {
  const header = req.headers['if-match'];
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (match === null) {
    throw new ApiError(
      ErrorCode.ApiBadRequest,
      `If-Match must be an entry's ETag, such as "3" (its version), got ${JSON.stringify(header.slice(0, 80))}`,
    );
  }
  return Number(match[1]);
}

const whole = (text: string | undefined, fallback: number): number => (text === undefined ? fallback : Number(text));

/** What a route does with a request that passed its access rule and its schemas. */
type RouteHandler = (c: Ctx, by: Caller) => Promise<Response> | Response;

/** The router over `handlers`: every route of ROUTES, the dashboard's tried first. */
export function apiApp(handlers: HttpHandlers, logger: Logger): OpenAPIHono<ApiEnv> {
  const access: HttpAccess = handlers.access ?? {};
  const app = new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      if (!result.success) throw new ApiError(ErrorCode.ApiBadRequest, result.error.issues[0]?.message ?? 'the request is not valid');
    },
  });
  // An Authorization header, when sent, is the credential: a session cookie beside it changes
  // nothing, for the read rule and for who calls alike (a cookie sent with some other scheme's
  // header must not read as the session and be decided on as an anonymous reader).
  const sessionOnly = (req: IncomingMessage) => (req.headers.authorization === undefined ? handlers.session?.(req) : undefined);
  const session = (req: IncomingMessage): boolean => sessionOnly(req) !== undefined;

  app.use('*', async (c, next) => {
    const req = c.env.incoming;
    try {
      checkTarget(req);
      // A signed-in session revoked at the identity provider ends before anything reads it, whatever
      // else the request carries: the request then goes on as one without a session (401 where a
      // credential is needed).
      await handlers.recheckSession?.(req);
      // The dashboard's reads that show entries (all of /ui/api/ but its login and logout) are
      // held to the read rule of /status and /api/* before its own routes answer, and narrowed to
      // what the caller's grants may read.
      if ((req.method === 'GET' || req.method === 'HEAD') && c.req.path.startsWith('/ui/api/'))
        refuse(req, authorizeRead(req, access, session(req)));
      c.set('grants', callerOf(req, access, sessionOnly(req)).grants);
      await next();
    } finally {
      // Whatever is left of a body no route read is read and dropped: closing on it would reset the
      // connection, and the client could lose the answer (the server's requestTimeout bounds it).
      if (!req.complete) req.resume();
    }
  });

  /** Throws a refusal of the request's credentials, logged (without the token), or returns when there is none. */
  const refuse = (req: IncomingMessage, refusal: ReturnType<typeof authorizeRead>): void => {
    if (refusal === undefined) return;
    logger.warn(
      { event: EVENTS.apiRefused, path: maskTarget(req.url), method: req.method, client: req.socket.remoteAddress, status: refusal.status },
      refusal.error,
    );
    const challenged: Record<string, string> = refusal.code === ErrorCode.ApiUnauthorized ? { 'www-authenticate': challenge(req) } : {};
    throw new ApiError(refusal.code, refusal.error, challenged);
  };
  const guard =
    (rule: RouteAccess): MiddlewareHandler<ApiEnv> =>
    async (c, next) => {
      const req = c.env.incoming;
      if (rule === 'write') {
        // The dashboard's session writes as a token does, once it sent its CSRF token back from this
        // server's Origin (the dashboard's rules, sessions.ts); without one, a token is needed.
        const held = sessionOnly(req);
        if (held === undefined) refuse(req, authorizeWrite(req, access));
        else if (held.writeRefusal !== undefined) refuse(req, { status: 403, code: ErrorCode.ApiForbidden, error: held.writeRefusal });
        else if (held.writeUnavailable !== undefined)
          refuse(req, { status: 503, code: ErrorCode.IssuerUnreachable, error: held.writeUnavailable });
      } else if (rule === 'metrics') refuse(req, authorizeMetrics(req, access));
      else if (rule !== 'open') refuse(req, authorizeRead(req, access, session(req)));
      await next();
    };

  if (handlers.dashboard !== undefined) app.route('/', handlers.dashboard);
  const served = routeHandlers(handlers, access, logger);
  for (const { route, access: rule } of ROUTES) {
    const handle = served[`${route.method.toUpperCase()} ${route.path}`];
    if (handle === undefined) throw new Error(`no handler for ${route.method} ${route.path}`);
    // The token's name and grants, or the session's: what the logs (and the audit) record as who made
    // a change, and what the operator verbs decide on (FORBIDDEN when they do not allow it).
    app.openapi({ ...route, middleware: [guard(rule)] }, (c: Ctx) => {
      const req = c.env.incoming;
      return handle(c, callerOf(req, access, sessionOnly(req)));
    });
  }
  answerOtherMethods(app);
  app.notFound((c) => {
    const { method, url } = c.env.incoming;
    const error = c.req.path.startsWith('/api/')
      ? new ApiError(ErrorCode.ApiNotFound, 'not found; the API serves the paths of /api/openapi.json')
      : method !== 'GET' && method !== 'HEAD'
        ? new ApiError(ErrorCode.ApiMethodNotAllowed, 'read-only: use GET', { allow: 'GET, HEAD' })
        : new ApiError(ErrorCode.ApiNotFound, 'not found; try /healthz, /readyz, /metrics, /status or /api/entries');
    return failureResponse(error, { method, url }, logger);
  });
  app.onError((error, c) => failureResponse(error, c.env.incoming, logger));
  return app;
}

/** A path that some route serves answers its other methods 405, with the methods it takes. */
function answerOtherMethods(app: OpenAPIHono<ApiEnv>): void {
  const methods = new Map<string, string[]>();
  for (const { method, path } of app.routes) {
    if (method === 'ALL') continue;
    const known = methods.get(path) ?? [];
    if (!known.includes(method)) known.push(method);
    if (method === 'GET' && !known.includes('HEAD')) known.push('HEAD');
    methods.set(path, known);
  }
  for (const [path, known] of methods) {
    const allow = known.join(', ');
    const message = path.startsWith('/api/') ? `this path takes ${allow}` : 'read-only: use GET';
    app.all(path, () => {
      throw new ApiError(ErrorCode.ApiMethodNotAllowed, message, { allow });
    });
  }
}

/** Each route's handler, by `METHOD /path` as ROUTES declares it. */
function routeHandlers(handlers: HttpHandlers, access: HttpAccess, logger: Logger): Record<string, RouteHandler> {
  const entries = () => handlers.entries ?? notServed('the entries API');
  const bodyDepth = () => (handlers.entries?.entryMaxDepth?.() ?? DEFAULTS.entryMaxDepth) + 4;
  const client = (req: IncomingMessage): string => `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
  let document: unknown;

  const probe = async (c: Ctx, ready: boolean): Promise<Response> => {
    const result = ready ? await handlers.ready() : handlers.health();
    // The detail (hosts, keys) only to whom may read the schedule (/status shows as much): a
    // token, or a trusted loopback client. kubelet's probe, from the node, gets the brief.
    const detailed = !ready || authorizeRead(c.env.incoming, access) === undefined;
    const reason = detailed ? result.reason : (result.brief ?? result.reason);
    return plain(result.ok ? 200 : 503, 'text/plain; charset=utf-8', `${result.ok ? 'ok' : 'not ok'}: ${reason}\n`);
  };
  const status = async (c: Ctx, by: Caller): Promise<Response> => {
    const page = { offset: whole(c.req.query('offset'), 0), limit: whole(c.req.query('limit'), DEFAULTS.statusPageMax) };
    try {
      const value = await handlers.status(page, by);
      return reply(200, value, {}, `${JSON.stringify(value, null, 2)}\n`);
    } catch (error) {
      // The status lives in Redis: while Redis is unreachable that is "unavailable, try again"
      // (503, with the reason and Retry-After); any other failure is tsbeat's own (500).
      const answer = failureAnswer(error, c.env.incoming, logger);
      const body = answer.status === 503 ? { ...answer.body, error: `status unavailable: ${answer.body.error}` } : answer.body;
      return reply(answer.status, body, answer.headers);
    }
  };
  const plan = async (c: Ctx, by: Caller, apply: boolean): Promise<Response> => {
    const plans = handlers.plans ?? notServed('plans');
    const req = c.env.incoming;
    const note = apply ? noteOf(req) : undefined;
    const parsed = PLAN_BODY.safeParse(await readJsonBody(req, API_BODY_MAX_BYTES, DEFAULTS.entryMaxDepth + 6, c.env.outgoing));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiError(
        ErrorCode.ApiBadRequest,
        `${issue?.path.join('.') || 'the body'}: ${issue?.message ?? 'not valid'}; the body of POST ${c.req.path} is {"owner": NAME, "entries": {NAME: entry, …}, "planDigest"?: D}`,
      );
    }
    const request: PlanRequest = parsed.data;
    if (!apply) return reply(200, await plans.plan({ ...request, horizonMs: planHorizonMs(c.req.query('horizon')) }, by));
    const applied = await plans.apply(request, by, note);
    logger.info({ event: EVENTS.apiWrite, who: by.who, owner: request.owner, outcome: 'apply' }, 'entries applied');
    return reply(200, applied);
  };

  const verbs: Record<string, RouteHandler> = {};
  for (const route of VERB_ROUTES) verbs[`${route.method.toUpperCase()} ${route.path}`] = (c, by) => serveVerb(c, by, route);
  /** A route of the verb table: its target and body made the verb's input, its answer the body's (202 while a run waits for the leader). */
  const serveVerb = async (c: Ctx, by: Caller, route: VerbRoute): Promise<Response> => {
    const door = handlers.door ?? notServed('the control verbs');
    const target = verbTarget(c, route);
    const { note, count, ...asked } = route.body === undefined ? {} : await controlBody(c.env.incoming, c.req.path, route.body);
    // The route's query fields (history's limit, the list's selector), checked by its schema.
    const asks = Object.keys(route.query?.shape ?? {}).flatMap((key) => {
      const text = c.req.query(key);
      return text === undefined || text === '' ? [] : [[key, queryValue(route, key, text)] as const];
    });
    const input = {
      ...(route.waitMs === undefined ? {} : { waitMs: route.waitMs }),
      ...Object.fromEntries(asks),
      ...asked,
      ...(target === undefined ? {} : { target: count === undefined ? target : { ...target, count } }),
    };
    const answer: unknown = await runVerb(route.verb, door, { ...by, note }, input as never);
    if (route.method !== 'get') {
      // The outcome as the audit event's action names it (pause-all, dead-letter-replay).
      const outcome =
        route.target === 'all'
          ? `${route.verb}-all`
          : route.path.startsWith('/api/dead-letters/')
            ? `dead-letter-${route.verb}`
            : route.verb;
      logger.info(
        { event: EVENTS.apiWrite, who: by.who, outcome, ...target },
        route.target === 'all' ? 'deployment-wide stop changed' : `API ${outcome}`,
      );
    }
    const runs = route.verb === 'trigger' ? (answer as readonly TriggerAnswer[]) : [];
    // A selection's trigger is answered as before its runs were too: its selector, entries and task ids.
    const queued =
      route.verb === 'trigger' && target !== undefined && 'selector' in target
        ? { selector: selectorOrThrow(target.selector).text, entries: runs.map((r) => r.entry), taskIds: runs.map((r) => r.taskId) }
        : {};
    // An entry's answer names the entry (history's `{entry, runs}`).
    const named = target !== undefined && 'entry' in target ? { entry: target.entry } : {};
    const body = route.one === true ? runs[0] : route.field === undefined ? answer : { ...named, ...queued, [route.field]: answer };
    // 202 while a run it queued waits for the leader (a trigger's, a replay's).
    const queues = route.verb === 'trigger' || route.verb === 'replay';
    return reply(queues && stillQueued(answer) ? 202 : 200, body);
  };

  return {
    ...verbs,
    'GET /healthz': (c) => probe(c, false),
    'GET /readyz': (c) => probe(c, true),
    'GET /metrics': async (_c, by) => {
      const text = await handlers.metrics.registry.metrics();
      // A reader of the whole deployment (no token, as before) gets every series; a scoped one, the
      // per-entry series of the entries its grants may read, decided on each entry's owner and labels,
      // and the per-queue series of the queues those entries publish to.
      if (deploymentGrant(by.grants, 'read') !== undefined) return plain(200, handlers.metrics.registry.contentType, text);
      const scopeOf = handlers.scopeOf ?? ((): ScopedEntry | undefined => undefined);
      const queues = handlers.readableQueues?.(by.grants) ?? new Set<string>();
      const shown = entrySeriesOnly(
        text,
        (name) => grantFor(by.grants, 'read', scopeOf(name) ?? { name }) !== undefined,
        (queue) => queues.has(queue),
      );
      return plain(200, handlers.metrics.registry.contentType, shown);
    },
    'GET /status': status,
    'GET /api/status': status,
    'GET /api/openapi.json': () => reply(200, (document ??= apiDocument())),
    'GET /api/entries': async (c, by) =>
      reply(
        200,
        await entries().list(c.req.query('after'), whole(c.req.query('limit'), DEFAULTS.apiPageDefault), c.req.query('selector'), by),
      ),
    'PUT /api/entries': async (c, by) => {
      const req = c.env.incoming;
      const store = entries();
      const note = noteOf(req);
      const body = await readJsonBody(req, API_BODY_MAX_BYTES, bodyDepth(), c.env.outgoing);
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw new ApiError(ErrorCode.ApiBadRequest, 'the body of PUT /api/entries must be an object mapping entry names to entries');
      const result = await store.putMany(body as Record<string, unknown>, by, note);
      const count = Object.keys(result.outcomes).length;
      logger.info({ event: EVENTS.apiWrite, who: by.who, client: client(req), count, version: result.version }, 'entries written');
      return reply(200, result);
    },
    'GET /api/entries/{name}': async (c, by) => {
      const name = c.req.param('name') ?? '';
      const found = await entries().get(name, by);
      if (found === undefined) throw new BeatError(ErrorCode.UnknownEntry, `no runtime entry ${JSON.stringify(name)}`);
      return reply(200, found, { etag: `"${found.version}"` });
    },
    'PUT /api/entries/{name}': async (c, by) => {
      const req = c.env.incoming;
      const name = c.req.param('name') ?? '';
      const store = entries();
      const note = noteOf(req);
      const ifVersion = ifMatch(req);
      const body = await readJsonBody(req, API_BODY_MAX_BYTES, bodyDepth(), c.env.outgoing);
      const { created, entry } = await store.put(name, body, by, ifVersion, note);
      const outcome = created ? 'created' : 'updated';
      logger.info({ event: EVENTS.apiWrite, who: by.who, client: client(req), entry: name, outcome }, `entry ${outcome}`);
      return reply(created ? 201 : 200, entry, { etag: `"${entry.version}"` });
    },
    'DELETE /api/entries/{name}': async (c, by) => {
      const req = c.env.incoming;
      const name = c.req.param('name') ?? '';
      const store = entries();
      const note = noteOf(req);
      const keepHistory = ['', 'true', '1'].includes(c.req.query('keepHistory') ?? 'false');
      if (!(await store.remove(name, keepHistory, by, ifMatch(req), note)))
        throw new BeatError(ErrorCode.UnknownEntry, `no runtime entry ${JSON.stringify(name)}`);
      logger.info(
        { event: EVENTS.apiWrite, who: by.who, client: client(req), entry: name, outcome: 'deleted', keepHistory },
        'entry deleted',
      );
      return reply(204, null);
    },
    'POST /api/entries/{name}/backfill': async (c, by) => {
      const req = c.env.incoming;
      const name = c.req.param('name') ?? '';
      const store = entries();
      if (store.backfill === undefined) return notServed('backfills');
      const body = await readJsonBody(req, API_BODY_MAX_BYTES, 4, c.env.outgoing);
      const answer = await store.backfill(name, body, by, noteOf(req));
      logger.info(
        { event: EVENTS.apiWrite, who: by.who, client: client(req), entry: name, outcome: 'backfill', status: answer.status },
        'backfill requested',
      );
      return reply(answer.status, answer.body);
    },
    'GET /api/entries/{name}/backfill/{id}': async (c, by) => {
      const store = entries();
      if (store.backfillProgress === undefined) return notServed('backfills');
      const answer = await store.backfillProgress(c.req.param('name') ?? '', c.req.param('id') ?? '', by);
      return reply(answer.status, answer.body);
    },
    'POST /api/plan': (c, by) => plan(c, by, false),
    'POST /api/apply': (c, by) => plan(c, by, true),
    'GET /api/audit': async (c, by) => {
      const reader = handlers.audit ?? notServed('the audit trail');
      const entry = c.req.query('entry');
      const who = c.req.query('who');
      const before = c.req.query('before');
      const asked = {
        limit: whole(c.req.query('limit'), DEFAULTS.auditPageDefault),
        ...(entry === undefined || entry === '' ? {} : { entry }),
        ...(who === undefined || who === '' ? {} : { who }),
        ...(before === undefined ? {} : { before }),
      };
      const events = await reader(asked, by);
      const last = events[events.length - 1];
      return reply(200, { events, ...(events.length === asked.limit && last !== undefined ? { next: last.id } : {}) });
    },
  };
}

/**
 * The target a verb's route names: the entry or dead letter of its path, the selection of its
 * `?selector=` (required: a blank one would select everything), the whole deployment, or none.
 */
function verbTarget(c: Ctx, route: VerbRoute): VerbTarget | DeadLetterPick | undefined {
  const selector = c.req.query('selector');
  switch (route.target) {
    case 'entry':
      return { entry: c.req.param('name') ?? '' };
    case 'id':
      return { id: c.req.param('id') ?? '' };
    case 'all':
      return { all: true };
    case 'none':
      return undefined;
    case 'selection':
      if (selector === undefined || selector.trim() === '')
        throw new ApiError(
          ErrorCode.ApiBadRequest,
          route.path.startsWith('/api/dead-letters/')
            ? `selector: give a label selector such as ?selector=team%3Dbilling (a blank one would select every item); one item is POST /api/dead-letters/ID/${route.verb}`
            : 'selector: give a label selector such as ?selector=team%3Dbilling (a blank one would select every entry)',
        );
      return { selector };
  }
}

function notServed(what: string): never {
  throw new ApiError(ErrorCode.ApiNotFound, `${what} ${what.endsWith('s') ? 'are' : 'is'} not served by this process`);
}
