/**
 * Every route the HTTP server answers, declared once with the zod schemas of its query, path and
 * body: @hono/zod-openapi validates a request's query and path with them (api-app.ts turns a
 * failure into API_BAD_REQUEST) and makes the OpenAPI 3.1 document of them (GET /api/openapi.json,
 * docs/openapi.json). A body is read by request-body.ts (its size, depth, keys and the busy gate)
 * and checked by its handler; it is documented here from the zod schema that checks it (an entry:
 * src/config/'s entrySchema, which the store checks every entry with).
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { RouteConfig } from '@hono/zod-openapi';
import { DEFAULTS } from '../base/defaults.js';
import { ErrorCode } from '../base/errors.js';
import { OVERLAP_POLICIES, entrySchema } from '../config/schema.js';
import { LOAD_HORIZON_RANGE, loadHorizonOf } from '../config/duration.js';
import { auditPageSchema } from '../control/audit-event-view.js';
import { VERB_BODIES, VERB_ROUTES, waitMs, wholeNumber } from '../operations/verb-routes.js';
import type { VerbRoute } from '../operations/verb-routes.js';

/**
 * Who may call a route: anyone (the probes), readers (a token, the dashboard's session, or trusted
 * loopback), or writers (a token that may write, or the session with its CSRF token); /metrics is
 * `metrics`: anyone, or only a token with --http-metrics-token-required (auth.ts, authorizeMetrics).
 */
export type RouteAccess = 'open' | 'metrics' | 'read' | 'write';

const flag = (name: string) =>
  z
    .enum(['', 'true', 'false', '1', '0'], { error: (issue) => `${name} must be true or false, got ${JSON.stringify(issue.input)}` })
    .optional();

/** The error shape of every refusal: the codes of src/base/errors.ts; `problems` names each bad place of a body. */
export const errorSchema = z.object({
  error: z.string(),
  code: z.enum(Object.values(ErrorCode) as [string, ...string[]]),
  problems: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  errorId: z.string().optional().describe('a 500: the id of its log line (beat.http.error)'),
});

const entriesMap = z.record(z.string(), entrySchema);
const note = VERB_BODIES.Note.shape.note;

/** A plan's body as api-app.ts checks it: its entries are the store's to check (ENTRY_INVALID naming each place). */
export const PLAN_BODY = z.object({
  owner: z.string().describe("the owner's name: the entries it holds are the plan's to add, change and remove"),
  entries: z.record(z.string(), z.unknown()),
  planDigest: z.string().optional().describe("apply: the plan's digest as it was seen; another plan now is 409 PLAN_STALE"),
});

const instant = (what: string) => z.string().describe(`${what}: an ISO-8601 instant with an offset, such as 2026-11-20T00:00:00Z`);

/**
 * A backfill's body, as operations/backfill-verbs.ts checks it (core/backfill-overlap.ts's policies:
 * an entry's overlap policies with allowAll for allow). Documented here; the check is there.
 */
const backfillBody = z
  .object({
    from: instant('the first slot'),
    to: instant('the last slot'),
    dryRun: z.boolean().optional().describe('list the slots, a page at a time, publishing nothing'),
    after: z.string().optional().describe("a dry run's next page: the `next` of the page before"),
    limit: z
      .number()
      .int()
      .min(1)
      .max(DEFAULTS.backfillLimitMax)
      .optional()
      .describe(`at most this many slots (${DEFAULTS.backfillLimit})`),
    note,
    unrecorded: z.boolean().optional().describe('also publish the slots before the record starts, which may have run (docs/outcomes.md)'),
    overlap: z
      .enum(['allowAll', ...OVERLAP_POLICIES.filter((p) => p !== 'allow')])
      .optional()
      .describe("the entry's own overlap policy unless this one"),
    waitMs: waitMs('finish'),
  })
  .strict();

/** POST /api/plan's `horizon` query: the window of the load it counts (as `beat plan --horizon`). */
const planQuery = z.object({
  horizon: z
    .string()
    .refine((text) => loadHorizonOf(text) !== undefined, {
      error: (issue) =>
        `horizon must be a duration ${LOAD_HORIZON_RANGE}, such as 24h or 7d, got ${JSON.stringify(String(issue.input).slice(0, 40))}`,
    })
    .optional()
    .describe(`the window of the load counted, 24h by default, at most 7d`),
});

/** The window of POST /api/plan's load: its `horizon` query (checked by planQuery), else the default. */
export function planHorizonMs(text: string | undefined): number {
  return (text === undefined ? undefined : loadHorizonOf(text)) ?? DEFAULTS.loadHorizonMs;
}

const loadPeak = z.object({ at: z.string().describe('ISO-8601 UTC'), runs: z.number() });
/** A load as control/entries-load.ts reports it. */
const loadReport = z.object({
  from: z.string().describe('the first minute counted, ISO-8601 UTC'),
  to: z.string().describe("the window's end, left out"),
  total: z.number(),
  perMinute: z.array(z.number()).describe('runs starting in each minute from `from`'),
  peakMinute: loadPeak,
  peakSecond: loadPeak,
  capped: z.number().describe('entries some of whose runs were not counted (they fire too often for the budget)'),
});
/** A plan as control/entry-plan.ts makes it (`beat plan --json`); /api/apply's adds `version`. */
const planAnswer = z.object({
  owner: z.string(),
  digest: z.string().describe('pass it as planDigest to /api/apply'),
  counts: z.record(z.string(), z.number()).describe('entries by action: add, change, remove, unchanged, conflict'),
  entries: z.array(z.record(z.string(), z.unknown())).describe('each entry: name, action, firesBefore, firesAfter, changes…'),
  load: z
    .object({ horizonMs: z.number(), before: loadReport, after: loadReport })
    .optional()
    .describe("the owner's entries' runs over the window, now and after the apply (POST /api/plan)"),
});

/**
 * The bodies' schemas, by the name the document's components give them: made JSON Schema only
 * when the document is (apiDocument), as an entry's takes a while and a server may never be asked.
 */
export const BODY_SCHEMAS = {
  Entry: entrySchema,
  Entries: entriesMap,
  Plan: PLAN_BODY.extend({ entries: entriesMap }),
  ...VERB_BODIES,
  Backfill: backfillBody,
} as const;

/** A JSON body, the component `schema` of BODY_SCHEMAS. */
function jsonBody(schema: keyof typeof BODY_SCHEMAS, description: string, required = true) {
  return { required, description, content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } } };
}

const json = (description: string) => ({ description, content: { 'application/json': { schema: z.unknown() } } });
const text = (description: string) => ({ description, content: { 'text/plain': { schema: z.string() } } });
const refused = { description: 'a refusal: {error, code, problems?}', content: { 'application/json': { schema: errorSchema } } };
/** A write's refusal for the caller's grants: code FORBIDDEN (or API_FORBIDDEN for a token that may only read), nothing written. */
const forbidden = {
  description:
    "the caller's grants do not allow it on an entry it touches, or on the whole deployment (code FORBIDDEN, naming the grant that is missing); nothing was written",
  content: { 'application/json': { schema: errorSchema } },
};
const named = z.object({ name: z.string().describe('the entry name, percent-encoded') });

interface Declared {
  readonly route: ReturnType<typeof createRoute>;
  readonly access: RouteAccess;
  /** A verb's route: served by the verb table's one handler. */
  readonly verb?: VerbRoute;
}

function declare(
  access: RouteAccess,
  method: 'get' | 'put' | 'post' | 'delete',
  path: string,
  summary: string,
  request: RouteConfig['request'] = {},
  ok: RouteConfig['responses'][string] = json('the answer'),
  status = '200',
): Declared {
  const responses = access === 'write' ? { [status]: ok, 403: forbidden, default: refused } : { [status]: ok, default: refused };
  return { access, route: createRoute({ method, path, summary, request, responses }) };
}

/** The path parameter each kind of a verb's target names, and its query. */
const VERB_REQUESTS = {
  entry: { params: named },
  selection: { query: z.object({ selector: z.string().optional().describe('a label selector, such as team=billing (required)') }) },
  all: {},
  id: { params: z.object({ id: z.string().describe("the dead letter's id") }) },
  none: {},
} as const;

const BODY_TEXTS = {
  Note: 'the note, or none (X-Beat-Note)',
  Selected: 'the note and the count confirmed, or none',
  Trigger: 'the note and how long to wait, or none (X-Beat-Note)',
} as const;

/** A route of the verb table (operations/verb-routes.ts), as the document and the router take it. */
function verbRouteOf(verb: VerbRoute): Declared {
  const target: { params?: z.ZodObject; query?: z.ZodObject } = VERB_REQUESTS[verb.target];
  const request = {
    ...target,
    ...(verb.query === undefined ? {} : { query: target.query === undefined ? verb.query : target.query.extend(verb.query.shape) }),
    ...(verb.body === undefined ? {} : { body: jsonBody(verb.body, BODY_TEXTS[verb.body], false) }),
  };
  const ok =
    verb.answer === undefined
      ? json('the answer')
      : { description: verb.answer.description ?? 'the answer', content: { 'application/json': { schema: verb.answer } } };
  return { ...declare(verb.method === 'get' ? 'read' : 'write', verb.method, verb.path, verb.summary, request, ok), verb };
}

/** The routes in the order they are matched (a fixed path before a parameter in the same place). */
export const ROUTES = [
  declare('open', 'get', '/healthz', 'the process and its loops are alive', {}, text('ok: REASON')),
  declare(
    'open',
    'get',
    '/readyz',
    'connected, and leading or a standby able to take over (its detail only to readers)',
    {},
    text('ok: REASON'),
  ),
  declare(
    'metrics',
    'get',
    '/metrics',
    "Prometheus metrics: with a bearer token, only the per-entry series (label entry) of the entries in its grants' read scope and the per-queue series of their queues; open unless beat run has --http-metrics-token-required",
    {},
    text('the exposition'),
  ),
  ...['/status', '/api/status'].map((path) =>
    declare('read', 'get', path, 'the deployment as `beat status` shows it, one page of its entries', {
      query: z.object({
        offset: wholeNumber('offset', 0, Number.MAX_SAFE_INTEGER, 0),
        limit: wholeNumber('limit', 1, DEFAULTS.statusPageMax, DEFAULTS.statusPageMax),
      }),
    }),
  ),
  declare('read', 'get', '/api/openapi.json', 'this document', {}, json('the OpenAPI 3.1 document')),
  declare('read', 'get', '/api/entries', 'the runtime entries in name order, a page', {
    query: z.object({
      limit: wholeNumber('limit', 1, DEFAULTS.apiPageMax, DEFAULTS.apiPageDefault),
      after: z.string().optional().describe('the `next` of the previous page'),
      selector: z.string().optional().describe('a label selector, such as team=billing'),
    }),
  }),
  declare('write', 'put', '/api/entries', 'writes many entries, all or nothing', {
    body: jsonBody('Entries', 'entry name → entry'),
  }),
  ...VERB_ROUTES.map(verbRouteOf),
  declare('write', 'post', '/api/entries/{name}/backfill', "fires an entry's slots of a past window (docs/runtime-entries.md)", {
    params: named,
    body: jsonBody('Backfill', 'the window and how'),
  }),
  declare('read', 'get', '/api/entries/{name}/backfill/{id}', "a backfill request's progress", {
    params: named.extend({ id: z.string() }),
  }),
  declare('read', 'get', '/api/entries/{name}', 'one runtime entry (its ETag is its version)', { params: named }),
  declare('write', 'put', '/api/entries/{name}', 'creates or replaces one entry (If-Match: its version)', {
    params: named,
    body: jsonBody('Entry', 'the entry'),
  }),
  declare(
    'write',
    'delete',
    '/api/entries/{name}',
    'deletes one entry (If-Match: its version)',
    { params: named, query: z.object({ keepHistory: flag('keepHistory') }) },
    { description: 'deleted' },
    '204',
  ),
  declare(
    'write',
    'post',
    '/api/plan',
    'what applying these entries would change, and the load before and after',
    { query: planQuery, body: jsonBody('Plan', 'the owner and its entries') },
    { description: 'the plan', content: { 'application/json': { schema: planAnswer } } },
  ),
  declare(
    'write',
    'post',
    '/api/apply',
    'applies a plan',
    { body: jsonBody('Plan', 'the owner and its entries (planDigest: the plan seen)') },
    { description: 'the plan applied', content: { 'application/json': { schema: planAnswer.extend({ version: z.number() }) } } },
  ),
  declare(
    'read',
    'get',
    '/api/audit',
    'the audit trail, newest first',
    {
      query: z.object({
        entry: z.string().optional(),
        who: z.string().optional().describe("only the events of this caller (a token's name, user@host)"),
        limit: wholeNumber('limit', 1, DEFAULTS.auditPageMax, DEFAULTS.auditPageDefault),
        before: z
          .string()
          .regex(/^\d{1,15}-\d{1,15}$/, {
            error: (issue) =>
              `before must be an event's id such as "1732370000000-0" (the "next" of the previous page), got ${JSON.stringify(String(issue.input).slice(0, 40))}`,
          })
          .optional(),
      }),
    },
    { description: 'the events, newest first', content: { 'application/json': { schema: auditPageSchema } } },
  ),
] as const;
