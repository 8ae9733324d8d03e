/**
 * Honest answers (src/http/failures.ts) and the bounds checked before a value is walked
 * (jsonDepthProblem on a body's text, jsonLimitProblem on an entry's args and kwargs, the entry
 * name's characters): each compared with an independent oracle on seeded random values, and each
 * failure kind with the status, code and log line it must get.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BeatError, ConfigError, ErrorCode } from '../../src/base/errors.js';
import { createLogger } from '../../src/base/log.js';
import { entryNameProblems, parseEntryDefinition } from '../../src/config/entry-definition.js';
import { jsonLimitProblem } from '../../src/config/json-value.js';
import { drain } from '../support/scans.js';
import { ApiError, failureAnswer, jsonDepthScan } from '../../src/http/failures.js';
import { unreachableReason } from '../../src/base/outages.js';
import { prng } from '../support/prng.js';

/** The scan of the whole text at once. */
const jsonDepthProblem = (text: string, maxDepth: number) => drain(jsonDepthScan(text, maxDepth, Number.POSITIVE_INFINITY));

function randomJson(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth <= 0 || r < 0.3) {
    const kinds = [() => Math.floor(rand() * 1e6), () => 'x"\\]['.slice(0, Math.floor(rand() * 6)) + '{', () => null, () => rand() < 0.5];
    return kinds[Math.floor(rand() * kinds.length)]!();
  }
  const n = Math.floor(rand() * 4);
  if (r < 0.65) return Array.from({ length: n }, () => randomJson(rand, depth - 1));
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}"]`, randomJson(rand, depth - 1)]));
}

/** The oracle: levels of arrays and objects, counted by recursion (the values here are small). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

function req(): IncomingMessage {
  return { url: '/api/entries/x', method: 'PUT', headers: {}, socket: {} } as unknown as IncomingMessage;
}

function capture(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (text: string) => void lines.push(JSON.parse(text)) } });
  return { lines, logger };
}

describe('failure answers', () => {
  it('answers a bad entry 400 with every problem, a conflict 412, a missing entry 404, nothing logged', () => {
    const { lines, logger } = capture();
    const invalid = new ConfigError('request body', [{ path: 'entries.x.schedule', message: 'no' }], ErrorCode.EntryInvalid);
    expect(failureAnswer(invalid, req(), logger)).toMatchObject({
      status: 400,
      body: { code: 'ENTRY_INVALID', problems: [{ path: 'entries.x.schedule' }] },
    });
    expect(failureAnswer(new BeatError(ErrorCode.EntryConflict, 'c'), req(), logger).status).toBe(412);
    expect(failureAnswer(new BeatError(ErrorCode.UnknownEntry, 'u'), req(), logger).status).toBe(404);
    expect(failureAnswer(new ApiError(ErrorCode.ApiMethodNotAllowed, 'm', { allow: 'GET' }), req(), logger)).toMatchObject({
      status: 405,
      headers: { allow: 'GET' },
    });
    expect(lines).toEqual([]);
  });

  it("answers a refusal of 500 in its own words, with its headers, logged; another BeatError of 500 as tsbeat's own failure", () => {
    const { lines, logger } = capture();
    const secret = new ApiError(ErrorCode.SsoSecret, 'auth.oidc.clientSecretFile "/s" is empty: put the client secret in it', {
      'set-cookie': 'sign-in=; Max-Age=0',
    });
    expect(failureAnswer(secret, req(), logger)).toMatchObject({
      status: 500,
      body: { code: 'sso_secret', error: 'auth.oidc.clientSecretFile "/s" is empty: put the client secret in it' },
      headers: { 'set-cookie': 'sign-in=; Max-Age=0' },
    });
    expect(failureAnswer(new BeatError(ErrorCode.ConfigInvalid, 'x'), req(), logger)).toMatchObject({
      status: 500,
      body: { code: 'INTERNAL' },
    });
    expect(lines.map((l) => [l['event'], l['level']])).toEqual([
      ['beat.http.error', 'error'],
      ['beat.http.error', 'error'],
    ]);
  });

  it('answers 503 with Retry-After only when Redis or the broker is away', () => {
    const { lines, logger } = capture();
    const refused = failureAnswer(new BeatError(ErrorCode.RedisUnavailable, 'Redis is unreachable'), req(), logger);
    expect(refused).toMatchObject({ status: 503, headers: { 'retry-after': '2' }, body: { code: 'REDIS_UNAVAILABLE' } });
    const closed = failureAnswer(new Error('Connection is closed.'), req(), logger);
    expect(closed).toMatchObject({ status: 503, headers: { 'retry-after': '2' } });
    const econn = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(failureAnswer(econn, req(), logger)).toMatchObject({ status: 503, body: { code: 'REDIS_UNAVAILABLE' } });
    // A Redis Cluster failing over its slot's master: ioredis's retries spent (issue 66: answered 500).
    const redirections = new Error('Too many Cluster redirections. Last error: Error: Connection is closed.');
    expect(failureAnswer(redirections, req(), logger)).toMatchObject({ status: 503, body: { code: 'REDIS_UNAVAILABLE' } });
    expect(lines.map((l) => l['event'])).toEqual(['beat.http.error', 'beat.http.error', 'beat.http.error', 'beat.http.error']);
  });

  it("answers tsbeat's own failure 500 with an error id that the log line carries", () => {
    const { lines, logger } = capture();
    for (const error of [
      new RangeError('Maximum call stack size exceeded'),
      new URIError('URI malformed'),
      'a string',
      new BeatError(ErrorCode.LuaScriptInvalid, 'x'),
    ]) {
      expect(unreachableReason(error)).toBeUndefined();
      const answer = failureAnswer(error, req(), logger);
      expect(answer.status).toBe(500);
      expect(answer.body.code).toBe('INTERNAL');
      expect(answer.body.errorId).toMatch(/^[0-9a-f]{12}$/);
      expect(answer.body.error).toContain(answer.body.errorId);
      const line = lines.at(-1)!;
      expect(line).toMatchObject({ event: 'beat.http.error', level: 'error', errorId: answer.body.errorId, path: '/api/entries/x' });
    }
  });
});

describe('bounds checked before walking', () => {
  it('finds the depth of a JSON text as the parsed value has it (300 seeded values)', () => {
    const rand = prng(31);
    for (let i = 0; i < 300; i += 1) {
      const value = randomJson(rand, 1 + Math.floor(rand() * 7));
      const text = JSON.stringify(value, null, rand() < 0.5 ? 1 : undefined);
      const depth = depthOf(value);
      expect(jsonDepthProblem(text, depth), text).toBeUndefined();
      if (depth > 0) expect(jsonDepthProblem(text, depth - 1), text).toMatch(/^\$/);
    }
  });

  it('names the path where a body nests too deep, and scans 5,000 levels without recursion', () => {
    expect(jsonDepthProblem('{"a": [1, {"b\\"]": [[2]]}]}', 3)).toBe('$."a"[1]."b\\\\\\"]"');
    expect(jsonDepthProblem('['.repeat(5000) + ']'.repeat(5000), 36)).toBe(`$${'[0]'.repeat(36)}`);
  });

  it('measures args as their JSON (300 seeded values) and stops at the first limit passed', () => {
    const rand = prng(7);
    for (let i = 0; i < 300; i += 1) {
      const value = randomJson(rand, 1 + Math.floor(rand() * 6));
      const depth = depthOf(value);
      const bytes = JSON.stringify(value).length;
      const escapes = (JSON.stringify(value).match(/\\/g) ?? []).length;
      // The measure counts an escaped character once: within the escapes of the JSON text's length.
      expect(jsonLimitProblem(value, { maxDepth: depth, maxBytes: bytes }), JSON.stringify(value)).toBeUndefined();
      if (depth > 0) expect(jsonLimitProblem(value, { maxDepth: depth - 1, maxBytes: bytes })?.message).toMatch(/^nested more than/);
      expect(jsonLimitProblem(value, { maxDepth: depth, maxBytes: bytes - escapes - 1 })?.message).toMatch(/^larger than/);
    }
    const huge = Array.from({ length: 1_000_000 }, () => 1);
    expect(jsonLimitProblem(huge, { maxDepth: 5, maxBytes: 1000 })?.message).toMatch(/^larger than 1000 bytes/);
  });

  it('refuses an entry whose args nest too deep or whose args and kwargs are too large, naming the place', () => {
    let deep: unknown = [];
    for (let i = 0; i < 5000; i += 1) deep = [deep];
    expect(parseEntryDefinition({ task: 't', schedule: 5, args: deep })).toMatchObject({
      ok: false,
      problems: [{ path: `args${'[0]'.repeat(32)}`, message: 'nested more than 32 levels deep (entryLimits.maxDepth)' }],
    });
    expect(parseEntryDefinition({ task: 't', schedule: 5, kwargs: { blob: 'a'.repeat(300_000) } })).toMatchObject({
      ok: false,
      problems: [{ path: 'kwargs', message: expect.stringMatching(/^larger than 262144 bytes of JSON/) }],
    });
    expect(parseEntryDefinition({ task: 't', schedule: 5, args: ['a'.repeat(200_000)], kwargs: { b: 'a'.repeat(100_000) } })).toMatchObject(
      {
        ok: false,
        problems: [{ path: 'kwargs', message: expect.stringMatching(/args and kwargs together/) }],
      },
    );
    expect(parseEntryDefinition({ task: 't', schedule: 5, args: ['a'.repeat(200_000)] })).toMatchObject({ ok: true });
  });
});

describe('entry names', () => {
  const bad = [
    ...Array.from({ length: 0x20 }, (_, c) => c),
    0x7f,
    ...Array.from({ length: 0x20 }, (_, c) => 0x80 + c),
    0x2028,
    0x2029,
    0x061c,
    0x200e,
    0x200f,
    0x202a,
    0x202b,
    0x202c,
    0x202d,
    0x202e,
    0x2066,
    0x2067,
    0x2068,
    0x2069,
  ];
  it('refuses every control character, line and paragraph separator and bidi control, anywhere in the name', () => {
    for (const c of bad) {
      const name = `billing${String.fromCharCode(c)}sync`;
      expect(entryNameProblems(name), `U+${c.toString(16)}`).toEqual([
        {
          path: 'name',
          message: expect.stringMatching(
            /^an entry name must be a name a person can tell apart: it holds U\+[0-9A-F]{4}\b.* at position 8;/,
          ),
        },
      ]);
    }
  });

  it('takes letters of any script, spaces, punctuation and emoji', () => {
    for (const name of ['billing-sync', 'nächtlich bericht', 'تقرير', '日次レポート', 'a.b:c/d', 'rocket 🚀', 'a\u00a0nbsp']) {
      expect(entryNameProblems(name), name).toEqual([]);
    }
  });
});
