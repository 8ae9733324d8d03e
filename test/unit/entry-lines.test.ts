/**
 * entryLineChunks splits a JSON Lines file itself (node:readline's iterator cost a promise per
 * line): its lines and their numbers must be readline's, whatever the line breaks (\n, \r\n, a
 * lone \r) and wherever the file's 1 MB reads cut them. The oracle is node:readline over the same
 * file. The digest of a chunk changes with its text and only with it. A line in export form
 * (isVerbatimLine) gives back, taken from its text, the name and entry JSON.parse reads in it.
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { entryLine, entryLineChunks, isVerbatimLine, verbatimEntry } from '../../src/commands/entry-lines.js';
import { int, pick, prng } from '../support/prng.js';

const dir = mkdtempSync(join(tmpdir(), 'entry-lines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every non-blank line and its number, as node:readline (crlfDelay Infinity) reads the file. */
async function readlineLines(path: string): Promise<[number, string][]> {
  const out: [number, string][] = [];
  let n = 0;
  for await (const text of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) {
    n += 1;
    if (text.trim() !== '') out.push([n, text]);
  }
  return out;
}

async function chunked(path: string, size: number): Promise<{ lines: [number, string][]; digests: string[] }> {
  const lines: [number, string][] = [];
  const digests: string[] = [];
  for await (const chunk of entryLineChunks('entries import', dir, path, size)) {
    digests.push(chunk.digest);
    for (const read of chunk.lines) lines.push([read.line, read.input === undefined ? '!' : JSON.stringify(read.input)]);
  }
  return { lines, digests };
}

/** A line as an entry (its JSON) or '!' when it holds none: the oracle's own reading. */
function entryOf(text: string): string {
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return '!';
    const { name, entry, ...rest } = value as Record<string, unknown>;
    return typeof name === 'string' && entry !== undefined && Object.keys(rest).length === 0 ? JSON.stringify({ name, entry }) : '!';
  } catch {
    return '!';
  }
}

function randomFile(seed: number, target: number): string {
  const r = prng(seed);
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < target; i += 1) {
    const line = pick(r, [
      JSON.stringify({ name: `e${i}`, entry: { task: 't.x', schedule: int(r, 1, 99), args: ['x'.repeat(int(r, 0, 300))] } }),
      JSON.stringify({ name: `e${i}`, entry: { task: 't.x', schedule: 1 } }),
      '',
      '   ',
      '{"name": 1}',
      'not json',
    ]);
    const brk = pick(r, ['\n', '\n', '\r\n', '\r']);
    parts.push(line + brk);
    length += line.length + brk.length;
  }
  if (seed % 2 === 1) parts.push(JSON.stringify({ name: 'last', entry: { task: 't.x', schedule: 5 } }));
  return parts.join('');
}

describe('entryLineChunks', () => {
  it('reads the lines readline reads, with their numbers, across line breaks of every kind and 1 MB reads', async () => {
    for (const [seed, size] of [
      [1, 3_000],
      [2, 3_000],
      [3, 2_300_000],
    ] as const) {
      const path = join(dir, `f${seed}.ndjson`);
      writeFileSync(path, randomFile(seed, size));
      const expected = (await readlineLines(path)).map(([n, text]): [number, string] => [n, entryOf(text)]);
      expect(expected.length).toBeGreaterThan(10);
      const got = await chunked(path, 1_000);
      expect(got.lines).toEqual(expected);
    }
  });

  it('gives a chunk the same digest for the same text, and another when one of its lines changes', async () => {
    const text = randomFile(5, 200_000);
    const path = join(dir, 'digest.ndjson');
    writeFileSync(path, text);
    const first = await chunked(path, 100);
    expect((await chunked(path, 100)).digests).toEqual(first.digests);
    expect(first.digests.length).toBeGreaterThan(4);
    // One character of a line of the third chunk changed (an entry's schedule).
    const [line] = first.lines.slice(200, 300).find(([, entry]) => entry.includes('"schedule"')) as [number, string];
    const lines = text.split(/(\r\n|\n|\r)/);
    const at = 2 * (line - 1);
    lines[at] = (lines[at] as string).replace(/"schedule":(\d)/, (_m, d: string) => `"schedule":${d === '9' ? '8' : '9'}`);
    writeFileSync(path, lines.join(''));
    const changed = await chunked(path, 100);
    expect(changed.digests.map((d, i) => d === first.digests[i])).toEqual(first.digests.map((_d, i) => i !== 2));
  });
});

describe('verbatimEntry', () => {
  it('takes from a line in export form the name and entry JSON.parse reads, whatever the name holds', () => {
    const r = prng(7);
    const parts = ['a', '"', '\\', '","entry":', '{', '}', ':', ',', 'é', '✓', '\\"', '\\u0061', ' ', 'name'];
    for (let i = 0; i < 2_000; i += 1) {
      const name = Array.from({ length: int(r, 1, 8) }, () => pick(r, parts)).join('');
      const entry = { args: [name, i], schedule: int(r, 1, 99), task: pick(r, ['t.x', 't."y"', 't\\z']) };
      const text = entryLine(name, entry);
      expect(isVerbatimLine(text, { name, entry })).toBe(true);
      const parsed = JSON.parse(text) as { name: string; entry: unknown };
      expect(verbatimEntry(text)).toEqual({ name: parsed.name, entry: undefined, json: JSON.stringify(parsed.entry) });
    }
  });

  it('passes only the export form: keys sorted, no spaces, name first', () => {
    const entry = { args: [1], schedule: 5, task: 't.x' };
    expect(isVerbatimLine('{"name":"n","entry":{"args":[1],"schedule":5,"task":"t.x"}}', { name: 'n', entry })).toBe(true);
    for (const text of [
      '{"name":"n","entry":{"schedule":5,"args":[1],"task":"t.x"}}',
      '{"name": "n","entry":{"args":[1],"schedule":5,"task":"t.x"}}',
      '{"entry":{"args":[1],"schedule":5,"task":"t.x"},"name":"n"}',
      '{"name":"\\u006e","entry":{"args":[1],"schedule":5,"task":"t.x"}}',
      '{"name":"n","entry":{"args":[1.0],"schedule":5,"task":"t.x"}}',
    ]) {
      const parsed = JSON.parse(text) as { name: string; entry: unknown };
      expect(isVerbatimLine(text, parsed), text).toBe(false);
    }
  });
});
