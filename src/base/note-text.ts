/**
 * The rule for a note given with a change (`--note` on the command line, the `X-Beat-Note` header,
 * the dashboard's field, the client's `note`): one home, so that every way in refuses the same
 * notes with the same words. Here in base/ because http/ and control/ both need it. Pure.
 */
import { shown } from './errors.js';

/** Longest note, in characters: a sentence or two, not a document. */
export const NOTE_MAX_CHARS = 500;

/** Why `text` cannot be a note (empty, too long, control characters), or undefined when it can. */
export function noteProblem(text: string): string | undefined {
  if (text.trim() === '') return 'a note must not be empty; leave it out for none';
  const length = [...text].length;
  if (length > NOTE_MAX_CHARS) return `a note is at most ${NOTE_MAX_CHARS} characters, got ${length}: ${shown(text)}`;
  // Control characters would break log lines, the status table and terminals.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(text)) return `a note must be one line without control characters: ${shown(text)}`;
  return undefined;
}

/** The header that carries a note over HTTP (the API, the dashboard). */
export const NOTE_HEADER = 'X-Beat-Note';

/**
 * Why an X-Beat-Note header is refused (the header named, with the fix), or undefined: its value is
 * the note percent-encoded (so that it may hold any text), held to noteProblem's rule.
 */
export function headerNoteProblem(header: string | readonly string[]): string | undefined {
  if (typeof header !== 'string') return `${NOTE_HEADER}: give the header once`;
  let note: string;
  try {
    note = decodeURIComponent(header);
  } catch {
    return `${NOTE_HEADER}: malformed percent-encoding; encode the note as encodeURIComponent does (UTF-8, %XX)`;
  }
  const problem = noteProblem(note);
  return problem === undefined ? undefined : `${NOTE_HEADER}: ${problem}`;
}
