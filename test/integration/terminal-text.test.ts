/**
 * Safe text on the command line: arguments and exception texts holding ESC, BEL, C1 controls, line
 * separators and bidi overrides are printed escaped by `beat status`, `beat history`, `beat entries
 * list` and `beat entries get` (and in their --json); an entry or task name holding any of them is
 * refused where it is written (src/config/name-text.ts). Against a private Redis, with the commands run in-process.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Entries } from '../../src/client/entries-client.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisRunHistory } from '../../src/redis/run-history-store.js';
import { TempDir } from '../support/beat-process.js';
import { runCli } from '../support/cli.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

/** What must never reach a terminal raw (besides the line breaks between lines). */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = '\u001b]0;owned\u0007\u001b[2J\u009b31m\u202eevil\u2066';
/** HOSTILE as the commands show it: each character as its JSON escape. */
const SHOWN = '\\u001b]0;owned\\u0007\\u001b[2J\\u009b31m\\u202eevil\\u2066';

let redis: PrivateRedis;
const dir = new TempDir();
let file = '';
let env: NodeJS.ProcessEnv = {};

beforeAll(async () => {
  redis = new PrivateRedis(await freePort());
  await redis.start();
  file = dir.write(
    'beat.config.json',
    JSON.stringify({
      name: 'term',
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      beatSchedule: { 'file-entry': { task: 't.file', schedule: 60, args: [HOSTILE] } },
    }),
  );
  env = {};
  const entries = await Entries.connect({ url: redis.url(0), deployment: 'term', prefix: 'tsbeat' });
  await entries.set('stored', { task: 's.stored', schedule: 60, kwargs: { x: HOSTILE } });
  await entries.close();
  const client = new Redis(redis.url(0));
  await new RedisRunHistory(client, schedulerKeys('tsbeat', 'term')).recordPublished([
    {
      entry: 'file-entry',
      record: {
        taskId: 'id-1',
        slotMs: Date.now() - 1000,
        publishedAtMs: Date.now() - 900,
        state: 'FAILURE',
        exception: `ValueError: ${HOSTILE}`,
      },
    },
  ]);
  client.disconnect();
}, 30_000);

afterAll(async () => {
  await redis?.stop();
  dir.remove();
});

function expectEscaped(output: string, label: string): void {
  expect(RAW.test(output), `${label} holds a raw control character:\n${JSON.stringify(output)}`).toBe(false);
  // The narrow status and history cut long cells (no note, the exception cut): they only must hold nothing raw.
  if (label === 'status (narrow)' || label === 'history (narrow)') return;
  // YAML (entries get) writes C0 controls with its own escapes ("\e", "\a"); everything else shows ours.
  // `entries list` shows no arguments, and task names cannot hold the text (refused where written): it is only checked raw-free.
  if (label === 'entries list') return;
  if (label !== 'entries get') expect(output, label).toContain(SHOWN);
  else expect(output, label).toContain('\\u202eevil\\u2066');
}

describe('text that reaches a terminal', () => {
  it('beat status, history, entries list and get escape every control character they print, in text and in JSON', async () => {
    const runs: [string, string[]][] = [
      ['status', ['status', '--wide', '--config', file]],
      ['status (narrow)', ['status', '--config', file]],
      ['status --json', ['status', '--config', file, '--json']],
      ['history', ['history', 'file-entry', '--wide', '--config', file]],
      ['history (narrow)', ['history', 'file-entry', '--config', file]],
      ['history --json', ['history', 'file-entry', '--config', file, '--json']],
      ['entries list', ['entries', 'list', '--config', file]],
      ['entries get', ['entries', 'get', 'stored', '--config', file]],
    ];
    for (const [label, argv] of runs) {
      const r = await runCli(argv, { env, now: Date.now() });
      expect(r.code, `${label}: ${r.stderr}`).toBe(0);
      expectEscaped(r.stdout, label);
    }
    // JSON stays JSON: the escape means the same character.
    const json = await runCli(['history', 'file-entry', '--config', file, '--json'], { env, now: Date.now() });
    expect(JSON.parse(json.stdout)[0].exception).toBe(`ValueError: ${HOSTILE}`);
  });

  it('refuses an entry name with a control character, a separator or a bidi control, and echoes it escaped', async () => {
    for (const c of ['\u0007', '\u0085', '\u2028', '\u202e', '\u2067']) {
      const r = await runCli(['entries', 'set', `bad${c}name`, '--task', 't', '--schedule', '60', '--config', file], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/an entry name must be a name a person can tell apart: it holds U\+[0-9A-F]{4}\b.* at position 4/);
      expect(RAW.test(r.stderr), JSON.stringify(r.stderr)).toBe(false);
    }
  });
});
