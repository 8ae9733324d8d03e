/**
 * A Celery canvas as an entry's run (docs/canvas.md): a task call's arguments, a signature (a task
 * call that may carry `link` / `linkError` callbacks, themselves signatures), and a `chain` of
 * signatures. What is checked here is what a config file, the HTTP API, the client and
 * `beat entries` all check, with paths under the entry (`chain[2].task`, `link[0].options.queue`).
 */
import * as z from 'zod';
import { DEFAULTS } from '../base/defaults.js';
import { keyed } from './keys.js';
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

/** An entry's `chain`: its signatures run one after the other, each given the previous one's result. */
export const chainSchema = z
  .array(signatureSchema, { error: 'chain must be a list of signatures such as [{ task: "proj.fetch" }, { task: "proj.store" }]' })
  .min(1, { error: 'chain must hold at least one signature' });

/** The parts of an entry that make its canvas (the entry's own task call is its first signature when it has no chain). */
export interface CanvasParts {
  readonly chain?: readonly ParsedSignature[] | undefined;
  readonly link?: readonly ParsedSignature[] | undefined;
  readonly linkError?: readonly ParsedSignature[] | undefined;
}

interface BoundProblem {
  readonly path: (string | number)[];
  readonly message: string;
}

/**
 * The first way a canvas breaks the bounds (DEFAULTS.canvasMaxSignatures in all, callbacks nested
 * DEFAULTS.canvasMaxDepth deep), as a path under the entry and a message; undefined when within.
 */
export function canvasBoundProblem(canvas: CanvasParts): BoundProblem | undefined {
  let count = 0;
  const walk = (sigs: readonly ParsedSignature[] | undefined, path: (string | number)[], depth: number): BoundProblem | undefined => {
    if (sigs === undefined) return undefined;
    for (const [i, sig] of sigs.entries()) {
      count += 1;
      if (count > DEFAULTS.canvasMaxSignatures)
        return { path: [...path, i], message: `a canvas holds at most ${DEFAULTS.canvasMaxSignatures} signatures, callbacks included` };
      for (const key of ['link', 'linkError'] as const) {
        const nested = sig[key];
        if (nested === undefined || nested.length === 0) continue;
        if (depth + 1 > DEFAULTS.canvasMaxDepth)
          return { path: [...path, i, key], message: `callbacks nest at most ${DEFAULTS.canvasMaxDepth} levels deep` };
        const problem = walk(nested, [...path, i, key], depth + 1);
        if (problem !== undefined) return problem;
      }
    }
    return undefined;
  };
  return (
    walk(canvas.chain, ['chain'], 0) ??
    (canvas.link !== undefined && canvas.link.length > 0 ? walk(canvas.link, ['link'], 1) : undefined) ??
    (canvas.linkError !== undefined && canvas.linkError.length > 0 ? walk(canvas.linkError, ['linkError'], 1) : undefined)
  );
}
