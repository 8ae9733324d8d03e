import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { entryNameProblems, parseEntryDefinition } from '../../src/config/entry-definition.js';
import { parseConfig } from '../../src/config/load.js';
import { characterName, nameTextProblem } from '../../src/config/name-text.js';

describe('nameTextProblem', () => {
  it('names the character and where it is', () => {
    expect(nameTextProblem('nightly\u200b')).toBe('U+200B ZERO WIDTH SPACE at position 8');
    expect(nameTextProblem('\ufeffnightly')).toBe('U+FEFF ZERO WIDTH NO-BREAK SPACE (byte-order mark) at position 1');
    expect(nameTextProblem('a\u0000b')).toBe('U+0000 NULL at position 2');
    expect(nameTextProblem('soft\u00adhyphen')).toBe('U+00AD SOFT HYPHEN at position 5');
    expect(nameTextProblem('ab\u2060c')).toBe('U+2060 WORD JOINER at position 3');
    expect(nameTextProblem('ab\u{e0001}')).toBe('U+E0001 (a format character) at position 3');
    // Positions count characters, not UTF-16 units.
    expect(nameTextProblem('🚀\u200d🚀')).toBe('U+200D ZERO WIDTH JOINER at position 2');
    expect(nameTextProblem('lone\ud800')).toBe('U+D800 (a lone surrogate) at position 5');
  });

  it('refuses white space at either end, and keeps it inside', () => {
    expect(nameTextProblem(' nightly')).toBe('U+0020 SPACE at its start');
    expect(nameTextProblem('nightly ')).toBe('U+0020 SPACE at its end (position 8)');
    expect(nameTextProblem('nightly\u00a0')).toBe('U+00A0 NO-BREAK SPACE at its end (position 8)');
    expect(nameTextProblem('nightly\u3000')).toBe('U+3000 IDEOGRAPHIC SPACE at its end (position 8)');
    expect(nameTextProblem('nightly report')).toBeUndefined();
  });

  it('takes letters of any script, punctuation and emoji', () => {
    for (const name of ['billing-sync', 'nächtlich bericht', 'تقرير', '日次レポート', 'a.b:c/d', 'rocket 🚀', 'x']) {
      expect(nameTextProblem(name), name).toBeUndefined();
    }
  });

  it('characterName names by category what it does not list', () => {
    expect(characterName(0x07)).toBe('U+0007 (a control character)');
    expect(characterName(0x41)).toBe('U+0041');
  });
});

function entryProblems(value: unknown): { path: string; message: string }[] {
  const parsed = parseEntryDefinition(value);
  return parsed.ok ? [] : parsed.problems;
}

describe('names and limits in entries', () => {
  it('refuses an entry name that passes for another, naming the character', () => {
    expect(entryNameProblems('nightly\u200b')).toEqual([
      {
        path: 'name',
        message:
          'an entry name must be a name a person can tell apart: it holds U+200B ZERO WIDTH SPACE at position 8; remove or replace it',
      },
    ]);
    expect(entryNameProblems(' nightly')[0]?.message).toContain('U+0020 SPACE at its start');
  });

  it('refuses a task name with NUL, a zero-width space or too many characters', () => {
    const problem = (task: string): string | undefined => entryProblems({ task, schedule: 60 }).find((p) => p.path === 'task')?.message;
    expect(problem('a.b\u0000')).toBe('task must be a name a person can tell apart: it holds U+0000 NULL at position 4');
    expect(problem('\u200ba.b')).toContain('U+200B ZERO WIDTH SPACE at position 1');
    expect(problem('a'.repeat(DEFAULTS.taskNameMax))).toBeUndefined();
    expect(problem('a'.repeat(DEFAULTS.taskNameMax + 1))).toMatch(new RegExp(`^task must be at most ${DEFAULTS.taskNameMax} characters`));
  });

  it('caps queue names and the other option strings', () => {
    const problems = entryProblems({
      task: 'a.b',
      schedule: 60,
      options: { queue: 'q'.repeat(DEFAULTS.queueNameMax + 1), routingKey: 'r'.repeat(DEFAULTS.optionStringMax + 1) },
    });
    expect(problems.find((p) => p.path === 'options.queue')?.message).toMatch(/^queue must be at most 256 characters, got 257/);
    expect(problems.find((p) => p.path === 'options.routingKey')?.message).toMatch(/^routingKey must be at most 256 characters/);
  });

  it('refuses the same in a config file, with the path of the entry', () => {
    let text = '';
    try {
      parseConfig({ beatSchedule: { 'nightly\u200b': { task: 'a.b', schedule: 60 }, ok: { task: 'a.b\u202e', schedule: 60 } } }, 'test');
    } catch (error) {
      text = String(error);
    }
    expect(text).toContain('U+200B ZERO WIDTH SPACE at position 8');
    expect(text).toContain('task must be a name a person can tell apart: it holds U+202E RIGHT-TO-LEFT OVERRIDE at position 4');
  });
});
