/**
 * `beat entries import FILE.ndjson` (real CLI processes, a private redis-server): every line is
 * checked before the first is written, so one bad line in the middle of 30,000 (past the first
 * write of 10,000) is named by its line and leaves the store as it was: its entries, its version,
 * its audit trail. Lines in the form `beat entries export` writes are taken from the text on the
 * second pass, the others parsed again: both must store the entry's canonical JSON under its
 * name, whatever the name holds (quotes, backslashes, the text `","entry":`). The oracle is
 * JSON.parse of each line and a copy with sorted keys made here.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schedulerKeys } from '../../src/redis/keys.js';
import { TempDir } from '../support/beat-process.js';
import { killCliChildren, runBeatCli, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'proj.tick';

/** JSON with every object's keys sorted, made here (the store's canonical form). */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${sortedJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

describe('beat entries import of JSON Lines (real CLI, private Redis)', () => {
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    killCliChildren();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  const config = (name: string): string => dir.write(`${name}.yaml`, `name: ${name}\nbroker: { url: "${server.url(0)}" }\n`);
  const line = (i: number, schedule: number): string =>
    JSON.stringify({ name: `e${String(i).padStart(6, '0')}`, entry: { args: [i], schedule, task: TASK } });

  it('a bad line in the middle of 30,000 is named by its line number, and nothing is written', async () => {
    const file = config('lines-bad');
    const keys = schedulerKeys('tsbeat', 'lines-bad');
    const N = 30_000;
    const first = dir.write('first.ndjson', `${Array.from({ length: N }, (_, i) => line(i, 60)).join('\n')}\n`);
    expect(await runBeatCli(['entries', 'import', first, '--config', file], { timeoutMs: 120_000 })).toMatchObject({
      code: 0,
      stdout: `${N} created; deployment lines-bad, store version 3, in 3 writes\n`,
    });
    const before = {
      entries: await redis.hgetall(keys.entries),
      version: await redis.get(keys.entriesVersion),
      audit: await redis.xlen(keys.audit),
      names: await redis.zcard(keys.entryNames),
    };
    expect(Object.keys(before.entries)).toHaveLength(N);
    // Every entry changed (so every chunk would write), one line wrong past the first two chunks'
    // worth of good lines, one malformed near the end, and a new name after them.
    const lines = Array.from({ length: N }, (_, i) => line(i, 120));
    lines[20_000] = JSON.stringify({ name: 'e020000', entry: { task: TASK, schedule: { cron: '61 * * * *' } } });
    lines[29_000] = '{"name": "e029000", "entry": {"task": ';
    lines.push(line(N, 120));
    const bad = dir.write('bad.ndjson', `${lines.join('\n')}\n`);
    for (const prune of [[], ['--prune']]) {
      const refused = await runBeatCli(['entries', 'import', bad, ...prune, '--config', file], { timeoutMs: 120_000 });
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain('bad.ndjson: 2 problems');
      expect(refused.stderr).toMatch(/e020000\.schedule\.cron \(line 20001\): minute field "61"/);
      expect(refused.stderr).toMatch(/\(line 29001\): JSON syntax/);
      expect(await redis.hgetall(keys.entries)).toEqual(before.entries);
      expect(await redis.get(keys.entriesVersion)).toBe(before.version);
      expect(await redis.xlen(keys.audit)).toBe(before.audit);
      expect(await redis.zcard(keys.entryNames)).toBe(before.names);
    }
  }, 240_000);

  it('stores the canonical JSON of every line under its name, whether the line is in export form or not', async () => {
    const file = config('lines-forms');
    const keys = schedulerKeys('tsbeat', 'lines-forms');
    const names = ['plain', 'quote"d', 'back\\slash', 'x","entry":{"task":"evil"}', 'unicodé ✓', '\\"', 'tab\\t'];
    const entry = (i: number): Record<string, unknown> => ({ task: TASK, schedule: 60 + i, kwargs: { b: 1, a: [i, { d: 2, c: 'x' }] } });
    // Export form, keys sorted and no spaces: taken from the text on the second pass.
    const verbatim = names.map((name, i) => `{"name":${JSON.stringify(name)},"entry":${sortedJson(entry(i))}}`);
    // Parsed again: keys in another order, spaces, escapes JSON.stringify would not write. (A chunk
    // is taken from its text only when all of its lines are in export form: a file of each.)
    const parsed = names.map(
      (name, i) =>
        `{ "entry": ${JSON.stringify(entry(i + 100), null, 1).replace(/\n/g, ' ')}, "name": "${JSON.stringify(`${name}-2`).slice(1, -1).replace(/a/g, '\\u0061')}" }`,
    );
    let version = 0;
    for (const [form, list] of [
      ['verbatim', verbatim],
      ['parsed', parsed],
    ] as const) {
      const input = dir.write(`${form}.ndjson`, `${list.join('\r\n')}\r\n`);
      const run = await runBeatCli(['entries', 'import', input, '--config', file], { timeoutMs: 60_000 });
      version += 1;
      expect(run, run.stderr).toMatchObject({
        code: 0,
        stdout: `${list.length} created; deployment lines-forms, store version ${version}\n`,
      });
    }
    const lines = [...verbatim, ...parsed];
    const expected = Object.fromEntries(
      lines.map((text) => {
        const { name, entry: value } = JSON.parse(text) as { name: string; entry: unknown };
        return [name, sortedJson(value)];
      }),
    );
    const stored = Object.fromEntries(
      Object.entries(await redis.hgetall(keys.entries)).map(([name, record]) => [name, /"entry":(.*)\}$/.exec(record)?.[1]]),
    );
    expect(stored).toEqual(expected);
    // The audit records each one's definition, the text-taken ones too.
    const events = await redis.xrange(keys.audit, '-', '+');
    expect(events).toHaveLength(lines.length);
    const audited = events.map(([, fields]) => fields[fields.indexOf('entry') + 1]);
    expect(audited.sort()).toEqual(Object.keys(expected).sort());
    for (const [, fields] of events) {
      const paths = (JSON.parse(fields[fields.indexOf('changes') + 1] as string) as { path: string }[]).map((c) => c.path);
      expect(paths).toEqual(expect.arrayContaining(['schedule', 'task']));
    }
  }, 120_000);
});
