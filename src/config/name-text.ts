/**
 * Names a person can tell apart (issue 49): an entry's name and a task's are compared, listed and
 * typed by people, so a character that does not show, or shows as something else, would let one
 * name pass for another (`nightly\u200b` for `nightly`) or break a log line or a terminal.
 *
 * Refused anywhere in a name: control characters (Unicode Cc: C0 with NUL, DEL, C1), format
 * characters (Cf: zero-width spaces and joiners, the byte-order mark, bidi controls, the soft
 * hyphen…), line and paragraph separators (Zl, Zp) and lone surrogates (Cs, which no UTF-8 can
 * carry). Refused at either end: white space, which no one sees in a list. A name being written is
 * also refused as a lookalike (name-lookalikes.ts); one being read is held to this rule alone.
 */
import * as z from 'zod';

/** The longest entry name, in characters. */
const ENTRY_NAME_MAX = 200;

/**
 * The longest task name, in characters: Celery's are dotted identifiers. Without a cap one entry's
 * task name could hold megabytes, copied into every message, log line, metric label and status row.
 */
export const TASK_NAME_MAX = 256;

/** Names of the characters most likely met, as Unicode names them; the others are named by category. */
const CHARACTER_NAMES: Readonly<Record<number, string>> = {
  0x00: 'NULL',
  0x09: 'CHARACTER TABULATION',
  0x0a: 'LINE FEED',
  0x0b: 'LINE TABULATION',
  0x0c: 'FORM FEED',
  0x0d: 'CARRIAGE RETURN',
  0x1b: 'ESCAPE',
  0x20: 'SPACE',
  0x7f: 'DELETE',
  0x85: 'NEXT LINE',
  0xa0: 'NO-BREAK SPACE',
  0xad: 'SOFT HYPHEN',
  0x034f: 'COMBINING GRAPHEME JOINER',
  0x061c: 'ARABIC LETTER MARK',
  0x115f: 'HANGUL CHOSEONG FILLER',
  0x1160: 'HANGUL JUNGSEONG FILLER',
  0x180e: 'MONGOLIAN VOWEL SEPARATOR',
  0x2000: 'EN QUAD',
  0x2001: 'EM QUAD',
  0x2002: 'EN SPACE',
  0x2003: 'EM SPACE',
  0x2007: 'FIGURE SPACE',
  0x2009: 'THIN SPACE',
  0x200a: 'HAIR SPACE',
  0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER',
  0x200d: 'ZERO WIDTH JOINER',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x2028: 'LINE SEPARATOR',
  0x2029: 'PARAGRAPH SEPARATOR',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x202f: 'NARROW NO-BREAK SPACE',
  0x205f: 'MEDIUM MATHEMATICAL SPACE',
  0x2060: 'WORD JOINER',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE',
  0x2069: 'POP DIRECTIONAL ISOLATE',
  0x3000: 'IDEOGRAPHIC SPACE',
  0x3164: 'HANGUL FILLER',
  0xfe0f: 'VARIATION SELECTOR-16',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE (byte-order mark)',
  0xffa0: 'HALFWIDTH HANGUL FILLER',
};

const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const HIDDEN_CATEGORY: readonly [RegExp, string][] = [
  [/\p{Cc}/u, 'a control character'],
  [/\p{Cf}/u, 'a format character'],
  [/\p{Cs}/u, 'a lone surrogate'],
  [/\p{Default_Ignorable_Code_Point}/u, 'a default-ignorable character'],
];
/** White space as JavaScript's trim() sees it, plus the byte-order mark's kin that trim() keeps. */
const SPACE = /[\s\u180e\u200b]/u;

/** `U+200B ZERO WIDTH SPACE`: the code point and its name (or its kind, for one not listed). */
export function characterName(codePoint: number): string {
  const hex = `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
  const known = CHARACTER_NAMES[codePoint];
  if (known !== undefined) return `${hex} ${known}`;
  const char = String.fromCodePoint(codePoint);
  const kind = HIDDEN_CATEGORY.find(([re]) => re.test(char))?.[1] ?? (SPACE.test(char) ? 'a space' : undefined);
  return kind === undefined ? hex : `${hex} (${kind})`;
}

/**
 * Why `text` is not a name a person can tell apart (`U+200B ZERO WIDTH SPACE at position 8`,
 * positions counted in characters from 1), or undefined when it is one.
 */
export function nameTextProblem(text: string): string | undefined {
  // The common case, a plain ASCII name, costs one test.
  if (/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(text)) return undefined;
  const chars = [...text];
  for (let i = 0; i < chars.length; i += 1) {
    const char = chars[i] as string;
    if (HIDDEN.test(char)) return `${characterName(char.codePointAt(0) ?? 0)} at position ${i + 1}`;
  }
  const first = chars[0];
  if (first !== undefined && SPACE.test(first)) return `${characterName(first.codePointAt(0) ?? 0)} at its start`;
  const last = chars[chars.length - 1];
  if (last !== undefined && SPACE.test(last)) return `${characterName(last.codePointAt(0) ?? 0)} at its end (position ${chars.length})`;
  return undefined;
}

/** A task's name: Celery's registered name, a dotted identifier such as `proj.tasks.add`. */
export const taskNameSchema = z
  .string({
    error: (issue) =>
      `${issue.input === undefined ? 'task is required' : 'task must be a string'}: the registered name of a Celery task, such as "proj.tasks.add"`,
  })
  .min(1, { error: 'task must not be empty' })
  .max(TASK_NAME_MAX, {
    error: (issue) =>
      `task must be at most ${TASK_NAME_MAX} characters (a Celery task name is a dotted identifier such as "proj.tasks.add"), got ${String((issue.input as string).length)}`,
  })
  .superRefine((s, ctx) => {
    const problem = nameTextProblem(s);
    if (problem !== undefined)
      ctx.addIssue({ code: 'custom', message: `task must be a name a person can tell apart: it holds ${problem}`, input: s, abort: true });
  })
  .refine((s) => s.trim() === s && !/\s/.test(s), { error: 'a task name has no spaces' });

export const entryNameSchema = z
  .string()
  .min(1, { error: 'an entry name must not be empty' })
  .max(ENTRY_NAME_MAX, { error: `an entry name must be at most ${ENTRY_NAME_MAX} characters` })
  // Control characters would break log lines, terminals and Redis key dumps; format characters
  // (zero-width, the byte-order mark, bidi controls), separators and white space at either end
  // make one name look like another. name-text.ts says which.
  .superRefine((s, ctx) => {
    const problem = nameTextProblem(s);
    if (problem !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `an entry name must be a name a person can tell apart: it holds ${problem}; remove or replace it`,
        input: s,
      });
    }
  });
