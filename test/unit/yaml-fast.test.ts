import { readFileSync, readdirSync } from 'node:fs';
import { parseDocument, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseFastYaml } from '../../src/config/yaml-fast.js';

/** What the yaml library makes of a document, as tsbeat reads it (bigints that fit made numbers). */
function library(text: string, strict = true): unknown {
  const fit = (v: unknown): unknown => {
    if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    if (Array.isArray(v)) return v.map(fit);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fit(x)]));
    return v;
  };
  const doc = parseDocument(text, { intAsBigInt: true, merge: true, resolveKnownTags: false, uniqueKeys: true });
  if (!strict && (doc.errors.length > 0 || doc.warnings.length > 0))
    return { errors: doc.errors.map((e) => e.message), warnings: doc.warnings.map((w) => w.message) };
  expect(doc.errors).toEqual([]);
  try {
    return fit(doc.toJS({ maxAliasCount: -1 }));
  } catch (error) {
    if (strict) throw error;
    return { errors: [String(error)], warnings: [] };
  }
}

const PLAIN = [
  'a: 1\nb: -2\nc: +3\nd: 0o17\ne: 0x1F\nf: 1.5\ng: .5\nh: 1e3\ni: -1.5E-2\nj: 007\nk: 9007199254740993\nl: 1.',
  'a: ~\nb: null\nc: Null\nd:\ne: true\nf: False\ng: TRUE\nh: yes\ni: no\nj: on',
  'url: redis://:p%40ss@127.0.0.1:6379/0\nwhen: 2030-01-01T00:00:00Z\ncron: "*/5 * * * *"\nq: \'it\'\'s\'\nd: "tab\\there \\u00e9 \\"q\\" \\\\"',
  'a: b#c # a comment\n# a line comment\n  # indented comment\nb: "x" # after quotes\nc: [1, 2] # after flow',
  'list:\n- 1\n- two\n-\n  nested: true\n- - deep\n  - er\nafter: 1',
  'seq:\n  - a: 1\n    b: [x, {y: -3.5, z: "w"}]\n  -   c: 2\n  - {}\n  - []',
  'flow: { task: proj.add, schedule: { crontab: { hour: 3, minute: "*/15" } }, args: [1, "a, b", null, true], kwargs: {} }',
  'json: {"a": 1, "b": [true, false, null], "c": {"d": "e"}}',
  '---\nkey with spaces: value with spaces\n"quoted key": 1\n\'single\': 2\n-dash: -x\nx-ext: 1',
  'a:\n  b:\n    c:\n\nd: 1\r\ne: 2\r\n',
  'x-defaults: &d { task: t, options: { queue: q } }\ne: { <<: *d, schedule: 1 }\nf:\n  <<: *d\n  task: u',
  'a: &a { k: 1, j: 2 }\nb: &b { k: 3, m: 4 }\nc: { <<: [*a, *b], j: 9 }\nd:\n  j: 0\n  <<: [*b, *a]',
  'l: &l\n  - 1\n  - &m { x: 1 }\nr: *l\ns: [*m, *m]\nt:\n- *m\n- &n 5\n- *n\nu: &u\nv: *u',
  'a: &a [ {x: 1}, {y: 2} ]\nb: { <<: *a }\nc: { x: 0, <<: *a }\nd:\n  <<:\n    y: 2\n  z: 3\ne:\n- <<: *a\n  y: 3',
  stringify({
    beatSchedule: { 'entry-0': { task: 't', args: [0, 'x', 'multi word', '', 'yes', '1.0', '-'], kwargs: { n: 0 }, schedule: 5 } },
  }),
];

const NOT_PLAIN = [
  'a: *undefined',
  'a: &a {x: 1}\nb: &a {y: 2}\nc: *a',
  'a: { "<<": 1 }',
  'a: &a { x: 1 }\nb:\n  <<: *a\n  <<: *a',
  'a: &a 1\nb: { <<: *a }',
  'a: [&x 1]',
  'key\r: 1',
  'a: b\u00a0',
  '\ufeffa: 1',
  'a: !!binary aGVsbG8=',
  'a: |\n  block\n  text',
  'a: >\n  folded',
  'a: plain\n  continued',
  'a: "double\n  continued"',
  'a: {b: 1,\n  c: 2}',
  'a: 1\na: 2',
  '? complex\n: key',
  'a: .inf',
  '\ta: 1',
  '---\na: 1\n---\nb: 2',
  '1: numeric key',
  'a: [1, 2,]',
  'a: b: c',
];

describe('the fast YAML reader (js-yaml)', () => {
  it('reads what the yaml library reads, value for value, for plain documents, anchors and merge keys', () => {
    for (const text of PLAIN) {
      const fast = parseFastYaml(text);
      // An integer beyond 2^53 goes to the library, which reads it exactly (a bigint, then refused).
      if (text.includes('9007199254740993')) {
        expect(fast, text).toBeUndefined();
        const exact = parseFastYaml(text.replace('9007199254740993', '9007199254740991'));
        expect(exact?.value, text).toEqual(library(text.replace('9007199254740993', '9007199254740991')));
        continue;
      }
      expect(fast, text).toBeDefined();
      expect(fast?.value, text).toEqual(library(text));
    }
  });

  it("reads a config that merges its defaults into 20,000 entries (past js-yaml's own limit of 10,000 merged keys)", () => {
    const lines = ['x-defaults: &defaults', '  enabled: true', '  catchUp: once', 'beatSchedule:'];
    for (let i = 0; i < 20_000; i += 1) lines.push(`  e-${i}:`, '    <<: *defaults', `    task: t.${i}`, '    schedule: 60');
    const fast = parseFastYaml(lines.join('\n'));
    expect(fast).toBeDefined();
    expect((fast?.value as { beatSchedule: Record<string, unknown> }).beatSchedule['e-19999']).toEqual({
      enabled: true,
      catchUp: 'once',
      task: 't.19999',
      schedule: 60,
    });
  });

  it('reads every example schedule and a generated 300-entry config as the library does', () => {
    const files = readdirSync(new URL('../../schedules', import.meta.url)).filter((f) => /\.ya?ml$/.test(f));
    const texts = files.map((f) => readFileSync(new URL(`../../schedules/${f}`, import.meta.url), 'utf8'));
    const beatSchedule: Record<string, unknown> = {};
    for (let i = 0; i < 300; i += 1) {
      beatSchedule[`e-${i}`] = {
        task: `t.${i}`,
        args: [i, -i, i / 7, `s${i}`],
        kwargs: { k: i % 2 === 0, n: null },
        schedule: i % 3 === 0 ? i + 1 : { crontab: { minute: `*/${(i % 59) + 1}`, day_of_week: 'mon-fri' } },
      };
    }
    texts.push(stringify({ timezone: 'Europe/Berlin', beatSchedule }));
    for (const text of texts) {
      const fast = parseFastYaml(text);
      expect(fast, text.slice(0, 200)).toBeDefined();
      expect(fast?.value).toEqual(library(text));
    }
  });

  it('reads the harder constructs exactly as the library does, or hands them to it (refused ones always)', () => {
    let handed = 0;
    for (const text of NOT_PLAIN) {
      const fast = parseFastYaml(text);
      const ref = library(text, false);
      const refused = ref !== null && typeof ref === 'object' && 'errors' in ref;
      if (fast === undefined) handed += 1;
      else {
        expect(refused, `${text}: read, but the library refuses it`).toBe(false);
        expect(fast.value, text).toEqual(ref);
      }
    }
    // Tags, duplicate keys, unknown aliases, several documents, syntax errors: never read here.
    expect(handed).toBeGreaterThanOrEqual(8);
  });

  it('never reads a document differently from the library, and seldom accepts one it refuses (random documents, randomly broken)', () => {
    let seed = 19;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const atoms: unknown[] = [
      'a',
      'b c',
      '',
      ' ',
      '-',
      '- x',
      '-5',
      '5',
      '5.0',
      '1e3',
      'yes',
      'null',
      '~',
      'true',
      '#',
      'a #b',
      'a#b',
      'x: y',
      'x:y',
      ':',
      '?',
      '*a',
      '&a',
      '!t',
      '|',
      '>',
      '"',
      "'",
      '{',
      '}',
      '[',
      ']',
      ',',
      'redis://h:1/0',
      '0o7',
      '0x1f',
      '.inf',
      '\\',
      '01',
      '+1',
      1,
      -2,
      3.5,
      2n ** 60n,
      true,
      null,
    ];
    // Objects used twice are written as an anchor and aliases.
    const made: object[] = [];
    const value = (depth: number): unknown => {
      const r = random();
      if (made.length > 0 && r < 0.1) return pick(made);
      if (depth > 3 || r < 0.5) return pick(atoms);
      const n = Math.floor(random() * 4);
      const collection =
        r < 0.75
          ? Object.fromEntries(Array.from({ length: n }, () => [String(pick(atoms)), value(depth + 1)]))
          : Array.from({ length: n }, () => value(depth + 1));
      made.push(collection);
      return collection;
    };
    const breaks = [
      ':',
      ' ',
      '-',
      '#',
      '"',
      "'",
      '{',
      '}',
      '[',
      ']',
      ',',
      '\n',
      '  ',
      '&',
      '*',
      '!',
      '|',
      '>',
      '?',
      '\\',
      '\r',
      '---\n',
      'x',
    ];
    let read = 0;
    const lenient: string[] = [];
    for (let i = 0; i < 1500; i += 1) {
      made.length = 0;
      let text = stringify(
        { root: value(0), other: value(0) },
        {
          collectionStyle: pick(['any', 'block', 'flow'] as const),
          defaultStringType: pick(['PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE'] as const),
          indentSeq: random() < 0.5,
        },
      );
      if (random() < 0.5) {
        const at = Math.floor(random() * text.length);
        text = text.slice(0, at) + pick(breaks) + text.slice(at);
      }
      const fast = parseFastYaml(text);
      if (fast === undefined) continue;
      read += 1;
      const ref = library(text, false);
      if (ref !== null && typeof ref === 'object' && 'errors' in ref) {
        // js-yaml is more lenient on a few malformed documents (a quoted string running over a
        // `---` line, a CR inside a flow mapping): rare, and read as their text says.
        lenient.push(text);
        continue;
      }
      expect(fast.value, text).toEqual(ref);
    }
    expect(read).toBeGreaterThan(300);
    expect(lenient.length, lenient.join('\n----\n')).toBeLessThan(read / 50);
  });
});
