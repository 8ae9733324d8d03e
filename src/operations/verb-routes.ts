/**
 * The routes /api serves the verb table (door.ts VERBS) on: the HTTP app (http/api-app.ts) serves
 * each with one handler, the OpenAPI document is made of them, and the TypeScript client's API
 * path finds its request here. A new verb is its function in VERBS and its route here
 * (docs/design.md, "Adding an operator verb").
 */
import * as z from 'zod';
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode } from '../base/errors.js';
import { deadLetterViewSchema } from '../control/dead-letter-view.js';
import { slotViewSchema } from '../control/entry-view-schema.js';
import { targetKind } from './door.js';
import type { TargetKind, VerbName } from './door.js';

/** A whole number of `name` from min to max, as text (a query's value), refused with a message naming both. */
export function wholeNumber(name: string, min: number, max: number, fallback: number) {
  const error = (issue: { input?: unknown }): string =>
    `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(String(issue.input).slice(0, 40))}`;
  const schema = z
    .string()
    .regex(/^\d{1,15}$/, { error })
    .refine((text) => Number(text) >= min && Number(text) <= max, { error })
    .optional()
    .describe(`${min} to ${max}, ${fallback} by default`);
  WHOLE_NUMBERS.add(schema);
  return schema;
}

const WHOLE_NUMBERS = new WeakSet<z.ZodType>();

/** A query field's value as a verb's input takes it: a whole number's (wholeNumber) as a number, else the text. */
export function queryValue(route: VerbRoute, key: string, text: string): number | string {
  const schema: unknown = route.query === undefined ? undefined : Object.getOwnPropertyDescriptor(route.query.shape, key)?.value;
  return schema instanceof z.ZodType && WHOLE_NUMBERS.has(schema) ? Number(text) : text;
}

/** How long the server waits for the leader to `what` before it answers 202 (the request left queued), ms. */
export const waitMs = (what: string) =>
  z
    .number()
    .int()
    .min(0)
    .max(DEFAULTS.dashboardTriggerWaitMs)
    .optional()
    .describe(`how long to wait for the leader to ${what} before answering 202, ms (${DEFAULTS.dashboardTriggerWaitMs})`);

const note = z.string().optional().describe('why (one line), kept by the audit trail');

/** The bodies the verbs' routes take, by the name the OpenAPI document's components give them. */
export const VERB_BODIES = {
  Note: z.object({ note }).strict(),
  Selected: z
    .object({
      note,
      count: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe('the number of entries the confirmation named: another number selected now is 409 SELECTION_CHANGED, nothing done'),
    })
    .strict(),
  Trigger: z
    .object({
      note,
      waitMs: waitMs('publish the run'),
    })
    .strict(),
};

export interface VerbRoute {
  readonly verb: VerbName;
  readonly target: TargetKind;
  readonly method: 'get' | 'post' | 'put' | 'delete';
  readonly path: string;
  readonly summary: string;
  /** The JSON body it takes (VERB_BODIES), or none (a read). */
  readonly body?: keyof typeof VERB_BODIES;
  /** The answer as the body's one field of this name; absent: the answer is the body (an array's one item, `one`). */
  readonly field?: string;
  readonly one?: boolean;
  /** How long the leader is waited for when the body says not (a selection's runs are answered queued at once). */
  readonly waitMs?: number;
  /** The answer's schema, for the OpenAPI document. */
  readonly answer?: z.ZodType;
  /** Its query's fields besides a selection's `selector`, each into the input's field of its name (a `wholeNumber`'s as a number). */
  readonly query?: z.ZodObject;
}

const controlRoutes = (['pause', 'resume', 'trigger'] as const).flatMap((verb): VerbRoute[] => [
  {
    verb,
    target: 'entry',
    method: 'post',
    path: `/api/entries/{name}/${verb}`,
    summary: `${verb} one entry`,
    body: verb === 'trigger' ? 'Trigger' : 'Note',
    ...(verb === 'trigger' ? { one: true } : {}),
  },
  {
    verb,
    target: 'selection',
    method: 'post',
    path: `/api/selected/${verb}`,
    summary: `${verb} the entries a label selector selects`,
    body: 'Selected',
    ...(verb === 'trigger' ? { field: 'runs', waitMs: 0 } : {}),
  },
]);

const deadLetterRoutes = (['replay', 'discard'] as const).flatMap((verb): VerbRoute[] => [
  {
    verb,
    target: 'selection',
    method: 'post',
    path: `/api/dead-letters/${verb}`,
    summary: `${verb === 'replay' ? 'replays' : 'discards'} every dead letter whose entry a label selector selects (the operate grant on all of them, or nothing is done)`,
    body: 'Note',
    field: verb === 'replay' ? 'replayed' : 'discarded',
    ...(verb === 'replay' ? { waitMs: 0 } : {}),
  },
  {
    verb,
    target: 'id',
    method: 'post',
    path: `/api/dead-letters/{id}/${verb}`,
    summary:
      verb === 'replay'
        ? "publishes a dead letter again, once: a manual run of its slot's message through the leader (202 while queued)"
        : 'removes a dead letter without running it',
    body: 'Note',
    field: verb === 'replay' ? 'replayed' : 'discarded',
  },
]);

/** Every route a verb is served on, in the order they are matched (a fixed path before a parameter in the same place). */
export const VERB_ROUTES: readonly VerbRoute[] = [
  {
    verb: 'history',
    target: 'entry',
    method: 'get',
    path: '/api/entries/{name}/history',
    summary: "an entry's last slots, newest first, each with its attempts (a failed run's retries), as beat history --json",
    field: 'runs',
    query: z.object({ limit: wholeNumber('limit', 1, DEFAULTS.runHistoryLength, DEFAULTS.runHistoryLength) }),
    answer: z
      .object({ entry: z.string(), runs: z.array(slotViewSchema) })
      .describe('the slots: each the fields of its last attempt, with `attempts` (oldest first)'),
  },
  ...controlRoutes,
  {
    verb: 'deadLetters',
    target: 'none',
    method: 'get',
    path: '/api/dead-letters',
    summary: 'the dead-letter list, oldest first: the slots that failed for good, of the entries the caller may read',
    field: 'deadLetters',
    query: z.object({ selector: z.string().optional().describe("only the items whose entry's labels it selects, such as team=billing") }),
    answer: z.object({ deadLetters: z.array(deadLetterViewSchema) }).describe('the items'),
  },
  ...deadLetterRoutes,
  { verb: 'stop', target: 'none', method: 'get', path: '/api/stop', summary: 'the deployment-wide stop, or null', field: 'stopped' },
  {
    verb: 'pause',
    target: 'all',
    method: 'put',
    path: '/api/stop',
    summary: 'stops the whole deployment (beat pause --all)',
    body: 'Note',
  },
  {
    verb: 'resume',
    target: 'all',
    method: 'delete',
    path: '/api/stop',
    summary: 'lifts the deployment-wide stop (beat resume --all)',
    body: 'Note',
  },
];

/** The route that serves `verb` on the kind of target `input` names. */
export function verbRoute(verb: VerbName, input: object): VerbRoute {
  const kind = targetKind(input);
  const route = VERB_ROUTES.find((r) => r.verb === verb && r.target === kind);
  if (route === undefined)
    throw new BeatError(ErrorCode.Usage, `${verb} takes no target of this kind (${kind}): see docs/runtime-entries.md`);
  return route;
}

/** Whether an answer holds a run still queued for the leader (answered 202 over HTTP). */
export function stillQueued(answer: unknown): boolean {
  const runs: unknown[] = Array.isArray(answer) ? answer : [answer];
  return runs.some((run) => typeof run === 'object' && run !== null && (run as { state?: unknown }).state === 'queued');
}
