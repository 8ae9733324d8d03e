import { describe, expect, it } from 'vitest';
import { entryNameProblems, newEntryNameProblems, parseEntryDefinition } from '../../src/config/entry-definition.js';
import { parseConfig } from '../../src/config/load.js';
import { SCRIPTS, lookalikeProblem } from '../../src/config/name-lookalikes.js';
import { TASK_NAME_MAX, characterName, nameTextProblem } from '../../src/config/name-text.js';
import { OPTION_STRING_MAX, QUEUE_NAME_MAX } from '../../src/config/options-schema.js';

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
    expect(problem('a'.repeat(TASK_NAME_MAX))).toBeUndefined();
    expect(problem('a'.repeat(TASK_NAME_MAX + 1))).toMatch(new RegExp(`^task must be at most ${TASK_NAME_MAX} characters`));
  });

  it('caps queue names and the other option strings', () => {
    const problems = entryProblems({
      task: 'a.b',
      schedule: 60,
      options: { queue: 'q'.repeat(QUEUE_NAME_MAX + 1), routingKey: 'r'.repeat(OPTION_STRING_MAX + 1) },
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

describe('entry names that would pass for another, refused where one is written (UTS #39)', () => {
  const refusal = (name: string): string | undefined => newEntryNameProblems(name)[0]?.message;

  it('refuses a default-ignorable character, which does not show, naming it and its position', () => {
    expect(refusal('night\u034fly')).toBe(
      'an entry name must be a name a person can tell apart: it holds U+034F COMBINING GRAPHEME JOINER at position 6, a character that does not show; remove it',
    );
    expect(refusal('report\u3164')).toContain('it holds U+3164 HANGUL FILLER at position 7, a character that does not show');
    expect(refusal('\u115fa')).toContain('U+115F HANGUL CHOSEONG FILLER at position 1');
    expect(refusal('sun \u2600\ufe0f')).toContain('U+FE0F VARIATION SELECTOR-16 at position 6');
    expect(refusal('ab\u{e0100}')).toContain('U+E0100 (a default-ignorable character) at position 3');
    // A format character is name-text.ts's, named once.
    expect(newEntryNameProblems('nightly\u200b')).toEqual(entryNameProblems('nightly\u200b'));
  });

  it('refuses Cyrillic and Greek lookalikes among Latin letters, and scripts that UTS #39 does not let mix', () => {
    expect(refusal('nightl\u0443')).toBe(
      'an entry name must be a name a person can tell apart: it holds U+0443 (Cyrillic) at position 7 in a Latin name, a mix of scripts that makes one name look like another (Unicode UTS #39); write the name in one script',
    );
    expect(refusal('p\u0430yp\u0430l')).toContain('U+0430 (Cyrillic) at position 2 in a Latin name');
    expect(refusal('\u0391BC')).toContain('U+0391 (Greek) at position 1 in a Latin name');
    expect(refusal('\u05e2\u05d1\u05e8\u05d9\u05ea \u062a\u0642\u0631\u064a\u0631')).toContain(
      'U+062A (Arabic) at position 7 in a Hebrew name',
    );
    expect(refusal('\u3072\u3089 \ud55c\uad6d')).toContain('U+D55C (Hangul) at position 4 in a Hiragana name');
  });

  it('refuses a name NFKC writes otherwise (decomposed, fullwidth, mathematical, a no-break space), naming the character and the name to write', () => {
    expect(refusal('cafe\u0301')).toBe(
      'an entry name must be a name a person can tell apart: it holds U+0301 at position 5, which Unicode\'s NFKC normalisation writes otherwise, so that the name prints as another; write "caf\u00e9"',
    );
    expect(refusal('\uff4e\uff49\uff47\uff48\uff54\uff4c\uff59')).toContain('U+FF4E at position 1, which');
    expect(refusal('\uff4e\uff49\uff47\uff48\uff54\uff4c\uff59')).toContain('write "nightly"');
    expect(refusal('\u{1d427}ightly')).toContain('U+1D427 at position 1');
    expect(refusal('night\u00a0ly')).toContain('U+00A0 NO-BREAK SPACE at position 6');
    expect(refusal('\ufb01le-sync')).toContain('write "file-sync"');
  });

  it('refuses digits of two number systems (UTS #39 §5.3), and takes one system of any script', () => {
    expect(refusal('job1\u0662')).toBe(
      'an entry name must be a name a person can tell apart: it holds U+0662 at position 5 after digits of another system, digits of two number systems; write its digits in one',
    );
    expect(refusal('job1\u0967')).toContain('U+0967 at position 5');
    for (const name of ['job12', 'job\u0661\u0662', '\u0930\u093f\u092a\u094b\u0930\u094d\u091f \u0967\u0968']) {
      expect(newEntryNameProblems(name), name).toEqual([]);
    }
  });

  it('takes one script, Latin with Han and kana, Bopomofo or Hangul, and Latin with one other recommended script', () => {
    for (const name of [
      'billing-sync',
      'nächtlich bericht',
      'café au lait',
      'отчёт за день',
      'Ελληνικά',
      'تقرير',
      '日次レポート',
      'tokyo 東京 レポート',
      'report 보고서 日本',
      'report تقرير',
      'rapport हिन्दी',
      'rocket 🚀',
      'x\u0301',
    ]) {
      expect(newEntryNameProblems(name), name).toEqual([]);
    }
  });

  it('leaves names as they are read (RedBeat, Django, an owner) to the rule they were written under', () => {
    for (const name of ['night\u034fly', 'nightl\u0443', 'report\u3164', 'cafe\u0301', 'job1\u0662'])
      expect(entryNameProblems(name), name).toEqual([]);
  });

  it('refuses a lookalike in a config file, with the path of the entry', () => {
    expect(() => parseConfig({ beatSchedule: { ['nightl\u0443']: { task: 'a.b', schedule: 60 } } }, 'test')).toThrow(
      'U+0443 (Cyrillic) at position 7 in a Latin name',
    );
  });

  it('knows the script of every assigned character that is not Common or Inherited (SCRIPTS is complete for this Node)', () => {
    const listed = new RegExp(
      `[${SCRIPTS.map((s) => `\\p{Script_Extensions=${s}}`).join('')}\\p{Script_Extensions=Common}\\p{Script_Extensions=Inherited}\\p{Cn}\\p{Co}\\p{Cs}]`,
      'u',
    );
    const missing: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp += 1) {
      if (!listed.test(String.fromCodePoint(cp))) missing.push(`U+${cp.toString(16).toUpperCase()}`);
    }
    expect(
      missing.slice(0, 10),
      `${missing.length} characters of scripts SCRIPTS does not list (Unicode ${process.versions.unicode})`,
    ).toEqual([]);
    expect(lookalikeProblem('\u{10330}\u{10331}')).toBeUndefined();
  });
});
