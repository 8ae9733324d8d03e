/**
 * Text for a terminal: every character that could move the cursor, recolour, retitle or reorder
 * what a person reads (C0 and C1 controls, DEL, line and paragraph separators, bidi controls) is
 * shown as its JSON escape (`\u001b`), so that a task name or an exception text holding ESC or
 * U+202E reads as what it is. JSON text stays JSON: these characters can only stand inside its
 * strings, where the escape means the same character.
 */

/** Everything unsafe but a line break and a tab, which the lines of a command's output are made of. */
const UNSAFE_IN_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** Everything unsafe in one field of a line (a table cell): line breaks and tabs too. */
const UNSAFE_IN_FIELD = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** `text` with its unsafe characters escaped; its line breaks and tabs kept. */
export function terminalLines(text: string): string {
  return text.replace(UNSAFE_IN_LINES, escape);
}

/** One field (a table cell): every unsafe character escaped, line breaks and tabs included. */
export function terminalField(text: string): string {
  return text.replace(UNSAFE_IN_FIELD, escape);
}
