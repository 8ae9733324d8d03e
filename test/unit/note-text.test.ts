/**
 * The one rule for notes (base/note-text.ts), as the CLI's --note, the X-Beat-Note header, the
 * dashboard's field and the client hold them: one line of text, no control characters, at most
 * 500 characters; the header percent-decoded first, named in every refusal.
 */
import { describe, expect, it } from 'vitest';
import { NOTE_MAX_CHARS, headerNoteProblem, noteProblem } from '../../src/base/note-text.js';

describe('noteProblem', () => {
  it('takes one line of text up to 500 characters, counted as characters, not UTF-16 units', () => {
    expect(noteProblem('incident 42: rerun after the fix → ok')).toBeUndefined();
    expect(noteProblem('é'.repeat(NOTE_MAX_CHARS))).toBeUndefined();
    expect(noteProblem('😀'.repeat(NOTE_MAX_CHARS))).toBeUndefined();
    expect(noteProblem('😀'.repeat(NOTE_MAX_CHARS + 1))).toMatch(/at most 500 characters, got 501/);
  });

  it('refuses empty notes and every control character, line and paragraph separator', () => {
    expect(noteProblem('   ')).toMatch(/must not be empty/);
    for (const c of ['\n', '\r', '\t', '\u0000', '\u001b', '\u007f', '\u0085', '\u009b', '\u2028', '\u2029'])
      expect(noteProblem(`a${c}b`), JSON.stringify(c)).toMatch(/one line without control characters/);
  });
});

describe('headerNoteProblem', () => {
  it('decodes the header and names it in every refusal', () => {
    expect(headerNoteProblem(encodeURIComponent('hourly → every 2 h'))).toBeUndefined();
    expect(headerNoteProblem(encodeURIComponent('red \u001b[31m'))).toMatch(/^X-Beat-Note: a note must be one line/);
    expect(headerNoteProblem('x'.repeat(501))).toMatch(/^X-Beat-Note: a note is at most 500/);
    expect(headerNoteProblem('%E0%A4%A')).toMatch(/^X-Beat-Note: malformed percent-encoding/);
    expect(headerNoteProblem('')).toMatch(/^X-Beat-Note: a note must not be empty/);
    expect(headerNoteProblem(['a', 'b'])).toMatch(/^X-Beat-Note: give the header once/);
  });
});
