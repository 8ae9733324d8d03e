/**
 * A Celery canvas as an entry's run (docs/canvas.md): a task call's arguments, a signature (a task
 * call that may carry `link` / `linkError` callbacks, themselves signatures), and a `chain` of
 * signatures. What is checked here is what a config file, the HTTP API, the client and
 * `beat entries` all check, with paths under the entry (`chain[2].task`, `link[0].options.queue`).
 */
import * as z from 'zod';
import { keyed } from './key-spelling.js';
import { optionsSchema } from './options-schema.js';
import type { Options, OptionsInput } from './options-schema.js';
import { checkCeleryJson } from './json-value.js';
import { taskNameSchema } from './name-text.js';

/** A task call's positional arguments, any JSON values (also checked alone: config/entry-shapes.ts). */
export const entryArgsSchema = z.array(z.unknown(), { error: 'args must be an array' }).superRefine(checkCeleryJson).default([]);
/** A task call's keyword arguments, any JSON values (also checked alone: config/entry-shapes.ts). */
export const entryKwargsSchema = z
  .record(z.string(), z.unknown(), { error: 'kwargs must be an object' })
  .superRefine(checkCeleryJson)
  .default({});

/** A signature as written: Celery's `signature(task, args, kwargs, options, immutable)` with its links. */
export interface SignatureInput {
  task: string;
  args?: unknown[] | undefined;
  kwargs?: Record<string, unknown> | undefined;
  options?: OptionsInput | undefined;
  /** Celery's `.si()`: the worker does not prepend the previous task's result to its args. */
  immutable?: boolean | undefined;
  /** Signatures applied with this task's result when it succeeds (Celery's `link`). */
  link?: SignatureInput[] | undefined;
  /** Signatures applied with this task's id when it fails (Celery's `link_error`). */
  linkError?: SignatureInput[] | undefined;
}

export interface ParsedSignature {
  readonly task: string;
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown>;
  readonly options: Options;
  readonly immutable: boolean;
  readonly link?: ParsedSignature[] | undefined;
  readonly linkError?: ParsedSignature[] | undefined;
}

const callbacks = (what: string): z.ZodType<ParsedSignature[] | undefined, SignatureInput[] | undefined> =>
  z.array(signatureSchema, { error: `${what} must be a list of signatures such as [{ task: "proj.notify" }]` }).optional();

export const signatureSchema: z.ZodType<ParsedSignature, SignatureInput> = z.lazy(() =>
  keyed({
    task: taskNameSchema,
    args: entryArgsSchema,
    kwargs: entryKwargsSchema,
    options: optionsSchema.default({}),
    immutable: z.boolean({ error: 'immutable must be true or false' }).default(false),
    link: callbacks('link'),
    linkError: callbacks('linkError'),
  }),
);

/** A member of a group or a chord's header: a signature, or a chain of signatures (its last one's result is the member's). */
export type ParsedMember = ParsedSignature | { readonly chain: readonly ParsedSignature[] };
/** A step of a chain: a signature; a group (last, or followed by a signature: a chord of the two); or a chord, whose body gets its header's results. */
export type ParsedStep = ParsedSignature | { readonly group: readonly ParsedMember[] } | { readonly chord: ParsedChord };

export const isSignature = (step: ParsedStep | ParsedMember): step is ParsedSignature => 'task' in step;

/**
 * A schema picked by the key the value has (`group`, `chord`, `chain`, else a signature): a union
 * would report every alternative's problems; this reports the chosen one's, at their paths.
 */
function byKey<T>(pick: (value: Record<string, unknown>) => z.ZodType<T, unknown>, what: string): z.ZodType<T, unknown> {
  return z.unknown().transform((value, ctx) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: `${what} must be an object such as { task: "proj.add" }`, input: value });
      return z.NEVER;
    }
    const result = pick(value as Record<string, unknown>).safeParse(value);
    if (result.success) return result.data;
    // Passed on whole (an unknown key's issue names its key), at their paths under this value.
    for (const issue of result.error.issues) ctx.addIssue({ ...issue, input: value } as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  });
}

const listOf = <T>(item: z.ZodType<T, unknown>, what: string, example: string) =>
  z.array(item, { error: `${what} must be a list such as ${example}` }).min(1, { error: `${what} must not be empty` });

const chainMember = keyed({ chain: listOf(signatureSchema, 'chain', '[{ task: "proj.fetch" }, { task: "proj.store" }]') });
const memberSchema: z.ZodType<ParsedMember, unknown> = byKey<ParsedMember>(
  (v) => ('chain' in v ? chainMember : signatureSchema),
  'a member',
);
const members = (what: string) => listOf(memberSchema, what, '[{ task: "proj.part", args: [1] }, { task: "proj.part", args: [2] }]');

/** A group's members (an entry's `group`, or a chain step's). */
export const groupSchema = members('group');
/** A chord: its header's members run in parallel, then its body gets their results (an entry's `chord`, or a chain step's). */
export const chordSchema = keyed({ header: members('header'), body: signatureSchema });
const groupStep = keyed({ group: groupSchema });
const chordStep = keyed({ chord: chordSchema });
const stepSchema: z.ZodType<ParsedStep, unknown> = byKey<ParsedStep>(
  (v) => ('group' in v ? groupStep : 'chord' in v ? chordStep : signatureSchema),
  'a step',
);

/**
 * An entry's `chain`: its steps run one after the other, each given the previous one's result. A
 * group is followed by a signature or by nothing (Celery's chain makes a group and the signature
 * after it a chord, celery/canvas.py `_chain.__or__`: a group or chord after it would be its body).
 * A group or chord first makes the run that chord's messages, the later steps (signatures only)
 * sent from its body (canvas.ts runGroup).
 */
export const chainSchema = z
  .array(stepSchema, { error: 'chain must be a list of signatures such as [{ task: "proj.fetch" }, { task: "proj.store" }]' })
  .min(1, { error: 'chain must hold at least one signature' })
  .superRefine((steps, ctx) => {
    const first = steps[0];
    if (first !== undefined && !isSignature(first)) {
      // A group or chord first: published as the chord it is (a group with the signature after it),
      // the later steps in its body's options, which hold signatures only.
      const bodyAt = 'group' in first ? 1 : 0;
      if (steps.length === 1)
        ctx.addIssue({
          code: 'custom',
          path: [0],
          message: `a chain of one ${'group' in first ? 'group' : 'chord'} is that ${'group' in first ? 'group' : 'chord'}: give the entry's ${'group' in first ? 'group' : 'chord'} instead of its chain`,
          input: first,
        });
      steps.forEach((step, i) => {
        if (i > bodyAt && !isSignature(step))
          ctx.addIssue({
            code: 'custom',
            path: [i],
            message: `after a chain's first ${'group' in first ? 'group and the signature after it' : 'chord'}, the steps must be signatures: Celery sends them from the chord's body, and tsbeat publishes no group or chord there`,
            input: step,
          });
      });
    }
    steps.forEach((step, i) => {
      const next = steps[i + 1];
      if ('group' in step && next !== undefined && !isSignature(next))
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message:
            "a group can be followed by a signature only (Celery's chain makes the two a chord, the signature its body): a group or chord after it would be a chord's body, which tsbeat does not publish; put a signature between them",
          input: step,
        });
    });
  });

/**
 * An entry's `args` or `kwargs` beside a chain whose first step is a group or chord: Celery's
 * `chain.apply_async(args, kwargs)` sends that chord's header tasks as written, the arguments
 * reaching none of them (captured from 5.2 and 5.5), so tsbeat refuses them rather than drop them.
 * Apart from the entry schema's cross-field check, which reads no arguments (entry-shapes.ts shares
 * it between entries that differ only in them): the config, parseEntryDefinition and the message's
 * compile ask it.
 */
export function chainArgsProblem(entry: {
  readonly chain?: readonly ParsedStep[] | undefined;
  readonly args?: readonly unknown[] | undefined;
  readonly kwargs?: Readonly<Record<string, unknown>> | undefined;
}): { readonly path: 'args' | 'kwargs'; readonly message: string } | undefined {
  const first = entry.chain?.[0];
  if (first === undefined || isSignature(first)) return undefined;
  const path = (entry.args?.length ?? 0) > 0 ? 'args' : Object.keys(entry.kwargs ?? {}).length > 0 ? 'kwargs' : undefined;
  if (path === undefined) return undefined;
  return {
    path,
    message: `an entry's ${path} cannot go with a chain whose first step is a ${'group' in first ? 'group' : 'chord'}: Celery's chain sends that chord's header tasks as written, the ${path} reaching none of them; give them to the header's signatures`,
  };
}

/** A chord as written: its header's members and its body. */
export interface ParsedChord {
  readonly header: readonly ParsedMember[];
  readonly body: ParsedSignature;
}

/**
 * The parts of an entry that make its canvas (the entry's own task call is its first signature when
 * it has no chain): at most one of `chain`, `group` and `chord` (the schema checks it).
 */
export interface CanvasParts {
  readonly chain?: readonly ParsedStep[] | undefined;
  /** A group as the whole run: one message per member (Celery's `group.apply_async`). */
  readonly group?: readonly ParsedMember[] | undefined;
  /** A chord as the whole run: one message per header member, and the chord's size in the result backend. */
  readonly chord?: ParsedChord | undefined;
  readonly link?: readonly ParsedSignature[] | undefined;
  readonly linkError?: readonly ParsedSignature[] | undefined;
}

/** Whether a chain holds a group or a chord (where Celery 5.2 and 5.5 place a canvas-wide link_error differently). */
export const hasGroups = (chain: readonly ParsedStep[] | undefined): boolean => chain?.some((step) => !isSignature(step)) ?? false;

interface BoundProblem {
  readonly path: (string | number)[];
  readonly message: string;
}

/** A signature of a canvas, where it is under the entry (`chain[2]`, `chord.header[0].link[1]`), and how deep in callbacks (an entry's own: 1). */
export interface PlacedSignature {
  readonly signature: ParsedSignature;
  readonly path: (string | number)[];
  readonly depth: number;
}

function* placedSignature(signature: ParsedSignature, path: (string | number)[], depth: number): Generator<PlacedSignature> {
  yield { signature, path, depth };
  for (const key of ['link', 'linkError'] as const)
    for (const [i, callback] of (signature[key] ?? []).entries()) yield* placedSignature(callback, [...path, key, i], depth + 1);
}

function* placedList(list: readonly ParsedSignature[], path: (string | number)[], depth: number): Generator<PlacedSignature> {
  for (const [i, signature] of list.entries()) yield* placedSignature(signature, [...path, i], depth);
}

function* placedMembers(members: readonly ParsedMember[], path: (string | number)[]): Generator<PlacedSignature> {
  for (const [j, member] of members.entries())
    yield* isSignature(member) ? placedSignature(member, [...path, j], 0) : placedList(member.chain, [...path, j, 'chain'], 0);
}

function* placedChord(chord: ParsedChord, path: (string | number)[]): Generator<PlacedSignature> {
  yield* placedMembers(chord.header, [...path, 'header']);
  yield* placedSignature(chord.body, [...path, 'body'], 0);
}

/**
 * Every signature of a canvas, callbacks included, in the order the entry writes them (its group
 * or chord, its chain's steps, its own link and linkError): the one walk of the checks that apply
 * to each signature (its bounds, its queue name: queue-names.ts). The entry's own task call is not
 * one: its options are the entry's.
 */
export function* canvasSignatures(canvas: CanvasParts): Generator<PlacedSignature> {
  if (canvas.group !== undefined) yield* placedMembers(canvas.group, ['group']);
  if (canvas.chord !== undefined) yield* placedChord(canvas.chord, ['chord']);
  for (const [i, step] of (canvas.chain ?? []).entries())
    yield* isSignature(step)
      ? placedSignature(step, ['chain', i], 0)
      : 'group' in step
        ? placedMembers(step.group, ['chain', i, 'group'])
        : placedChord(step.chord, ['chain', i, 'chord']);
  yield* placedList(canvas.link ?? [], ['link'], 1);
  yield* placedList(canvas.linkError ?? [], ['linkError'], 1);
}

/**
 * A canvas (an entry's `chain` and the `link` / `linkError` callbacks of any of its signatures,
 * docs/canvas.md): at most this many signatures in all, and callbacks nested at most this deep (a
 * callback's own callbacks are one level down). The whole canvas is written into the body of every
 * run's message and unpacked by the worker; a runtime entry must not make either unbounded.
 */
const CANVAS_MAX_SIGNATURES = 100;
const CANVAS_MAX_DEPTH = 4;

/**
 * The first way a canvas breaks the bounds (CANVAS_MAX_SIGNATURES in all, callbacks nested
 * CANVAS_MAX_DEPTH deep), as a path under the entry and a message; undefined when within.
 * A callback too deep is named by the list that holds it (`chain[0].link[0].link`).
 */
export function canvasBoundProblem(canvas: CanvasParts): BoundProblem | undefined {
  let count = 0;
  for (const { path, depth } of canvasSignatures(canvas)) {
    if (depth > CANVAS_MAX_DEPTH) return { path: path.slice(0, -1), message: `callbacks nest at most ${CANVAS_MAX_DEPTH} levels deep` };
    if ((count += 1) > CANVAS_MAX_SIGNATURES)
      return { path, message: `a canvas holds at most ${CANVAS_MAX_SIGNATURES} signatures, callbacks included` };
  }
  return undefined;
}
