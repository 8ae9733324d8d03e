/**
 * `beat run --http` under hostile input, and who gets to see entries.
 *
 * The hostile suite sends a few hundred randomised requests (a seeded PRNG: sizes, depths, broken
 * percent-encoding, names with controls, Host headers, content types, methods, bad HTTP) over raw
 * TCP, eight at a time, while an entry due every second runs: every answer is 2xx or 4xx and a
 * refusal carries a code, /healthz answers between the waves, the process lives on, and the queue
 * in Redis gains a message every second throughout (measured by sampling its length, not assumed).
 *
 * The access test reads everything that shows entries from a client that is not trusted as
 * loopback (bound to 127.0.0.2, listed in --http-not-loopback) and with a foreign Host header, with
 * and without a token configured: none gets the entries' arguments; the probes and /metrics stay
 * open and show none. A private Redis; beat run as a real process.
 */
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Entries } from '../../src/client/entries-client.js';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, TempDir, sleep } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { httpPortOf } from '../support/ops.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';
import { prng } from '../support/prng.js';

const TOKEN = 'hostile-suite-token-0123456789';
/** A marker in the entries' arguments: a reply that holds it showed them. */
const SECRET = 'kw-secret-7f3a9c';

interface Reply {
  readonly status: number;
  readonly body: string;
}

/**
 * One request over its own TCP connection, bytes as given (nothing validated or normalised on the
 * way), answered when the server closes or after `Connection: close` has been honoured.
 */
/** Whether `text` holds a whole answer: its head, and a body as long as Content-Length or chunks up to the last. */
function answered(text: string, head: boolean): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  if (head || /^HTTP\/1\.[01] (?:1\d\d|204|304)/.test(text)) return !/^HTTP\/1\.[01] 1/.test(text);
  const headers = text.slice(0, end);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
  if (length !== null) return Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length[1]);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(headers)) return text.endsWith('\r\n0\r\n\r\n');
  return false;
}

function raw(port: number, request: Buffer | string, localAddress = '127.0.0.1', timeoutMs = 10_000, head = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${String(request).slice(0, 120)}`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
      socket.destroy();
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (answered(Buffer.concat(chunks).toString('latin1'), head)) finish();
    });
    // The server may close while the body is still being sent (413): the answer is what counts.
    socket.on('error', () => undefined);
    socket.on('close', finish);
    // Sent in pieces, and no more once an answer has begun: a server may answer (413, 405) before
    // it has read a large body. Not ended: a half-closed connection may lose its answer.
    const bytes = typeof request === 'string' ? Buffer.from(request, 'latin1') : request;
    const send = (offset: number): void => {
      if (offset >= bytes.length || chunks.length > 0 || socket.destroyed) return;
      const end = Math.min(bytes.length, offset + 65_536);
      if (socket.write(bytes.subarray(offset, end))) setImmediate(() => send(end));
      else socket.once('drain', () => send(end));
    };
    socket.once('connect', () => send(0));
  });
}

function request(method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Buffer {
  // Keep-alive, as clients send by default: the server drains a refused body instead of closing on it.
  const head = [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  if (body !== undefined) head.push(`content-length: ${payload.length}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

function get(port: number, path: string, headers: Record<string, string>, localAddress?: string): Promise<Reply> {
  return raw(port, request('GET', path, headers), localAddress);
}

/** The hostile requests, drawn from `rand`: each a request's bytes and what it is, for the failure message. */
function hostileRequest(rand: () => number, port: number): { bytes: Buffer; what: string; head: boolean } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const chars = ['a', 'é', '日', '\u0000', '\u001b', '\u0085', '\u2028', '\u202e', '\u2066', '/', '%', ' ', '"', '\\', '🚀'];
  const name = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => pick(chars)).join('');
  const encodedName = pick([
    encodeURIComponent(name),
    `${encodeURIComponent(name)}%`,
    '%E0%A4%A',
    '%ZZ',
    '%C0%AF',
    'x'.repeat(Math.floor(rand() * 20_000)),
  ]);
  const path = pick([
    '/status',
    '/api/entries',
    `/api/entries/${encodedName}`,
    `/api/entries?limit=${pick(['0', '-1', '1e9', 'abc', '1000', '%FF'])}&after=${encodedName}`,
    '/ui/api/entries?offset=-1&limit=99999&sort=nope',
    `/ui/api/entries/${encodedName}`,
    `/ui/api/entries/${encodedName}/pause`,
    '/ui/api/overview',
    '/ui/api/timeline?span=day',
    '/ui/api/login',
    '/healthz',
    '/metrics',
    `/${encodedName}`,
    '//evil.example/status',
    '*',
  ]);
  const method = pick(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'BREW']);
  const host = pick([`127.0.0.1:${port}`, 'localhost', 'evil.example', '', `[::1]:${port}`, 'x'.repeat(300)]);
  const depth = pick([1, 10, 40, 200, 5000, 20_000]);
  const deep = '['.repeat(depth) + ']'.repeat(depth);
  const body = pick<string | Buffer | undefined>([
    undefined,
    '',
    '{',
    'null',
    '[]',
    JSON.stringify({ task: 't.x', schedule: 5 }),
    `{"task":"t.x","schedule":5,"args":${deep}}`,
    `{"n":{"task":"t.x","schedule":5,"kwargs":{"k":${deep}}}}`,
    JSON.stringify({ task: 't.x', schedule: 5, kwargs: { blob: 'b'.repeat(Math.floor(rand() * 600_000)) } }),
    JSON.stringify({ task: `t.${name}`, schedule: pick([5, -1, 1e308, '* * * * *', { cron: '0 0 31 2 *' }]), args: [name] }),
    Buffer.from(Array.from({ length: 64 }, () => Math.floor(rand() * 256))),
    'x'.repeat(5 * 1024 * 1024),
  ]);
  const headers: Record<string, string> = {};
  if (host !== '') headers['host'] = host;
  const type = pick(['application/json', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', '']);
  if (type !== '') headers['content-type'] = type;
  if (rand() < 0.5) headers['authorization'] = pick([`Bearer ${TOKEN}`, 'Bearer wrong', 'Basic Zm9vOmJhcg==', `Bearer ${TOKEN} extra`]);
  if (rand() < 0.1) headers['x-big'] = 'h'.repeat(20_000);
  if (rand() < 0.05) {
    // Not HTTP at all, or broken HTTP.
    const broken = pick(['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 'GET /status HTTP/9.9\r\n\r\n']);
    return { bytes: Buffer.from(broken, 'latin1'), what: JSON.stringify(broken), head: false };
  }
  const what = `${method} ${path.slice(0, 80)} host=${host.slice(0, 30)} type=${type} body=${body === undefined ? '-' : String(body).slice(0, 60)}`;
  return { bytes: request(method, path, headers, body), what, head: method === 'HEAD' };
}

const dir = new TempDir();
const fleet = new BeatFleet();
let redis: PrivateRedis;
let client: Redis;

/** The deployment's config: `tick` due every second (publishing every slot, late or not, with `catchUp: all`). */
function config(name: string, catchUp?: 'all'): string {
  return dir.write(
    `${name}.json`,
    JSON.stringify({
      name,
      broker: { url: redis.url(0) },
      taskDefaultQueue: `${name}-q`,
      beatSchedule: {
        tick: { task: 't.tick', schedule: 1, options: { queue: `${name}-tick` }, ...(catchUp === undefined ? {} : { catchUp }) },
        'with-args': { task: 't.args', schedule: 3600, kwargs: { secret: SECRET } },
      },
    }),
  );
}

/** A deployment name of this try's own (see afterEach). */
let named = 0;
const fresh = (base: string): string => `${base}-${(named += 1)}`;

async function start(name: string, env: NodeJS.ProcessEnv, catchUp?: 'all'): Promise<{ beat: BeatProcess; port: number }> {
  const entries = await Entries.connect({ url: redis.url(0), deployment: name, prefix: 'tsbeat' });
  await entries.set('runtime-args', { task: 't.rt', schedule: 3600, kwargs: { secret: SECRET } });
  await entries.close();
  const beat = fleet.spawn({
    config: config(name, catchUp),
    label: name,
    args: ['--http', '127.0.0.1:0', '--http-not-loopback', '127.0.0.2'],
    env,
  });
  const port = await httpPortOf(beat);
  await beat.waitForEvent('beat.lock.acquired', 10_000);
  return { beat, port };
}

beforeAll(async () => {
  redis = new PrivateRedis(await freePort());
  await redis.start();
  client = new Redis(redis.url(0));
}, 30_000);

// A try that failed leaves its beat running and holding its deployment's lock: a retry (vitest's
// retry) starts its own, under a deployment name of its own (fresh()).
afterEach(async () => {
  await fleet.killAll();
});

afterAll(async () => {
  await fleet.killAll();
  client?.disconnect();
  await redis?.stop();
  dir.remove();
});

describe('beat run --http under hostile input', () => {
  it('answers every randomised request 2xx or 4xx with a code, never wedges, and publishes every second throughout', async () => {
    const name = fresh('hostile');
    const { beat, port } = await start(name, { BEAT_API_TOKEN: TOKEN });
    const queue = `${name}-tick`;
    // The queue's length, sampled every 200 ms while the requests run: the longest time it stood still.
    const samples: { atMs: number; length: number }[] = [];
    const sampler = setInterval(() => {
      const atMs = Date.now();
      void client.llen(queue).then((length) => samples.push({ atMs, length }));
    }, 200);
    const rand = prng(0x31);
    const failures: string[] = [];
    const startedMs = Date.now();
    try {
      // At least 30 waves and 10 s, so that the queue is watched over ten slots; at most 150 waves.
      for (let wave = 0; wave < 150 && (wave < 30 || Date.now() - startedMs < 10_000); wave += 1) {
        const batch = Array.from({ length: 8 }, () => hostileRequest(rand, port));
        const replies = await Promise.all(
          batch.map((r) => raw(port, r.bytes, undefined, undefined, r.head).then((reply) => ({ ...r, reply }))),
        );
        for (const { what, reply, head } of replies) {
          const ok = (reply.status >= 200 && reply.status < 300) || (reply.status >= 400 && reply.status < 500);
          // A HEAD is answered without a body: its status is what counts.
          const coded = reply.status < 400 || head || /"code":\s*"[A-Za-z_]+"/.test(reply.body);
          if (!ok || !coded) failures.push(`${reply.status} ${reply.body.slice(0, 200)} <- ${what}`);
        }
        const health = await get(port, '/healthz', { host: '127.0.0.1' });
        expect(health.status, `healthz after wave ${wave}`).toBe(200);
      }
    } finally {
      clearInterval(sampler);
    }
    expect(failures, failures.join('\n')).toEqual([]);
    expect(beat.alive).toBe(true);
    const elapsedMs = Date.now() - startedMs;
    // Measured on the queue: it grew throughout, never standing still for as long as 2.5 s.
    let longestStillMs = 0;
    let since = samples[0]!;
    for (const s of samples) {
      if (s.length > since.length) since = s;
      else longestStillMs = Math.max(longestStillMs, s.atMs - since.atMs);
    }
    expect(longestStillMs, `the queue stood still for ${longestStillMs} ms`).toBeLessThan(2500);
    expect(samples.at(-1)!.length - samples[0]!.length).toBeGreaterThanOrEqual(Math.floor(elapsedMs / 1000) - 3);
    // None of it was logged as tsbeat's own failure.
    expect(beat.logs.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  }, 120_000);
});

/** A request with the token, its reply's status and JSON body. */
async function api(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const headers = { host: `127.0.0.1:${port}`, authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const reply = await raw(port, request(method, path, headers, body === undefined ? undefined : JSON.stringify(body)), undefined, 60_000);
  const text = reply.body.slice(reply.body.indexOf('{'), reply.body.lastIndexOf('}') + 1);
  return { status: reply.status, json: text === '' ? undefined : JSON.parse(text) };
}

interface Problem {
  readonly path: string;
  readonly message: string;
}

/**
 * Rules drawn toward the costly: never-firing and dense rrules, crontabs for rare days, exclusions
 * that cover every slot or nearly. Some are fine; the store decides which (the oracle is that what
 * it accepts then runs, and what it refuses is named).
 */
function generatedEntry(rand: () => number, i: number): Record<string, unknown> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const freq = pick(['SECONDLY', 'MINUTELY', 'HOURLY', 'DAILY', 'YEARLY']);
  const parts = [`FREQ=${freq}`, `INTERVAL=${pick([1, 7, 61, 99_999])}`];
  if (rand() < 0.6) parts.push(`BYMONTH=${pick([2, 4, 12])}`);
  if (rand() < 0.6) parts.push(`BYMONTHDAY=${pick([1, 29, 30, 31])}`);
  if (rand() < 0.5) parts.push(`BYDAY=${pick(['MO', 'SU', 'MO,TU'])}`);
  if (rand() < 0.3) parts.push(`BYSECOND=${i % 60}`);
  const schedule = pick<unknown>([
    { rrule: parts.join(';') },
    { rrule: parts.join(';') },
    { cron: pick(['0 0 29 2 1', '0 0 31 4 *', '*/5 * * * *', '0 0 29 2 *']) },
    { timedelta: { seconds: 86_400 + i } },
  ]);
  const exclude = pick<unknown[] | undefined>([
    undefined,
    undefined,
    ['* * * * *'],
    ['* * * * mon-sun'],
    ['* 0-22 * * *'],
    ['* * * * sat,sun'],
  ]);
  return { task: `t.gen${i}`, schedule, ...(exclude === undefined ? {} : { exclude }) };
}

describe('beat run --http under hostile schedules', () => {
  // The checks of a write's schedules run on a worker thread (service/schedule-cost-pool.ts), not on
  // the scheduler's loop: the goals are asserted as they are, /healthz within 250 ms every
  // time and the probe's p99 lateness within 50 ms, every slot published (`catchUp: all`), the lock
  // never lost. (With the checks on the loop, /healthz took up to hundreds of ms and slots were late;
  // before any write-time check the leader published no slot in 45 s, and /healthz took 33 s.)
  it('refuses every costly rule at write time, naming entry, rule and limit, while the every-second probe publishes every slot and /healthz answers', async () => {
    const name = fresh(`costly-${process.pid}`);
    const { beat, port } = await start(name, { BEAT_API_TOKEN: TOKEN }, 'all');
    // /healthz every 100 ms throughout, each answer timed.
    const health: { ms: number; status: number; phase: string; at: string }[] = [];
    let phase = 'start';
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const t0 = performance.now();
        const reply = await get(port, '/healthz', { host: '127.0.0.1' });
        health.push({ ms: performance.now() - t0, status: reply.status, phase, at: new Date().toISOString() });
        await sleep(100);
      }
    })();
    const startedMs = Date.now();
    const refused: Problem[][] = [];
    const expectRefused = (reply: { status: number; json: any }, what: string): Problem[] => {
      expect(reply.status, `${what}: ${JSON.stringify(reply.json).slice(0, 400)}`).toBe(400);
      expect(reply.json.code).toBe('ENTRY_INVALID');
      refused.push(reply.json.problems);
      return reply.json.problems as Problem[];
    };
    try {
      // The cases, one at a time: each a 400 naming the entry's schedule, the rule, the budget and the fix.
      phase = 'wedge';
      const wedge = 'FREQ=SECONDLY;INTERVAL=99999;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYHOUR=0;BYMINUTE=0;BYSECOND=0';
      const one = expectRefused(await api(port, 'PUT', '/api/entries/x', { task: 'x.y', schedule: { rrule: wedge } }), 'wedge');
      expect(one).toEqual([{ path: 'entries.x.schedule', message: expect.stringContaining(wedge) }]);
      expect(one[0]!.message).toMatch(/took more than 25,000 steps \(scheduleStepBudget\).*simplify it/);
      const count = 'FREQ=SECONDLY;COUNT=1000000;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO';
      expect(expectRefused(await api(port, 'PUT', '/api/entries/y', { task: 'x.y', schedule: { rrule: count } }), 'count')).toEqual([
        { path: 'entries.y.schedule', message: expect.stringContaining(count) },
      ]);
      // Forty exclusions that cover every slot, and thirty never-firing rules, each in one bulk PUT: every
      // entry is named at its exclude (its rule), or the checks stop at writeCheckMs and the rest is named as refused unchecked.
      const bulks = {
        cover: [40, (i: number) => ({ task: 'x.y', schedule: 86_400 + i, exclude: ['* * * * *'] }), 'exclude'],
        never: [
          30,
          (i: number) => ({ task: 'x.y', schedule: { rrule: `FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30;BYSECOND=${i}` } }),
          'schedule.rrule',
        ],
      } as const;
      for (const [prefix, [n, make, at]] of Object.entries(bulks)) {
        phase = prefix;
        const names = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
        const problems = expectRefused(
          await api(port, 'PUT', '/api/entries', Object.fromEntries(names.map((e, i) => [e, make(i)]))),
          prefix,
        );
        const last = problems.at(-1)!;
        const stopped =
          /took more than 30\d\d ms \(writeCheckMs, and writeCheckEntryMs per entry written\), so it and the \d+ after it were not checked/.test(
            last.message,
          );
        const named = stopped ? problems.slice(0, -1) : problems;
        expect(named.map((p) => p.path)).toEqual(names.slice(0, named.length).map((e) => `entries.${e}.${at}`));
        expect(stopped ? last.path : `entries.${names[named.length - 1]}`).toBe(`entries.${names[named.length - (stopped ? 0 : 1)]}`);
        if (!stopped) expect(named).toHaveLength(n);
      }
      // A hundred never-firing rules at once (~0.2 s each to find so): the checks stop at writeCheckMs, the rest refused unchecked.
      const many = Object.fromEntries(
        Array.from({ length: 100 }, (_, i) => [
          `many-${i}`,
          { task: 'x.y', schedule: { rrule: `FREQ=MINUTELY;BYMONTH=4;BYMONTHDAY=31;BYSECOND=${i % 60}` } },
        ]),
      );
      phase = 'many';
      const t0 = Date.now();
      const manyProblems = expectRefused(await api(port, 'PUT', '/api/entries', many), 'many');
      expect(manyProblems.at(-1)!.message).toMatch(
        /^checking the \d+ entries before this one took more than 3020 ms \(writeCheckMs, and writeCheckEntryMs per entry written\), so it and the \d+ after it were not checked, and nothing was written: write fewer entries at once/,
      );
      expect(manyProblems.length).toBeLessThan(100);
      expect(Date.now() - t0).toBeLessThan(10_000);
      // The same hundred as a plan: checked as a write of them would be, within the same limit.
      phase = 'plan';
      const t1 = Date.now();
      const planProblems = expectRefused(await api(port, 'POST', '/api/plan', { owner: 'hostile', entries: many }), 'plan');
      expect(planProblems.at(-1)!.message).toMatch(/^checking the \d+ entries before this one took more than 3020 ms/);
      expect(planProblems.slice(0, -1).map((p) => p.path)).toEqual(
        Object.keys(many)
          .slice(0, planProblems.length - 1)
          .map((e) => `entries.${e}.schedule.rrule`),
      );
      expect(Date.now() - t1).toBeLessThan(10_000);

      // Generated rules, in bulks of 20: the refusal names exactly the costly ones; the others are then written and run.
      const rand = prng(0x49);
      const accepted: string[] = [];
      for (let bulk = 0; bulk < 4; bulk += 1) {
        const entries = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`gen-${bulk}-${i}`, generatedEntry(rand, bulk * 20 + i)]));
        phase = `generated ${bulk}`;
        const first = await api(port, 'PUT', '/api/entries', entries);
        const bad = new Set(
          first.status === 200
            ? []
            : (expectRefused(first, `generated ${bulk}`).map((p) => /^entries\.([^.[]+)/.exec(p.path)?.[1]) as string[]),
        );
        const rest = Object.fromEntries(Object.entries(entries).filter(([n]) => !bad.has(n)));
        const second = await api(port, 'PUT', '/api/entries', rest);
        expect(second.status, JSON.stringify(second.json).slice(0, 400)).toBe(200);
        accepted.push(...Object.keys(rest));
      }
      expect(accepted.length).toBeGreaterThan(0);
      // What was accepted runs: none of it fails at the leader.
      phase = 'after';
      await sleep(3000);
      const status = await api(port, 'GET', '/status?limit=1000');
      const failing = (status.json.entries as { name: string; failing: unknown }[]).filter((e) => e.failing !== null);
      expect(failing).toEqual([]);
    } finally {
      probing = false;
      await prober;
    }
    const endedMs = Date.now();
    expect(beat.alive).toBe(true);
    expect(beat.events(EVENTS.lockLost).length + beat.events(EVENTS.lockReleased).length).toBe(0);
    // The probe: a fire every second, none missing, over the whole run, none far behind its slot.
    const fires = beat
      .events(EVENTS.fire)
      .filter((l) => l['entry'] === 'tick')
      .map((l) => ({ slot: Date.parse(String(l['slot'])), lateMs: Number(l['latenessMs']) }))
      .filter((f) => f.slot >= startedMs && f.slot <= endedMs - 2500);
    const slots = fires.map((f) => f.slot);
    const gaps = slots.slice(1).flatMap((slot, i) => (slot - slots[i]! === 1000 ? [] : [new Date(slots[i]!).toISOString()]));
    expect(gaps, `probe slots missed after ${gaps.join(', ')}`).toEqual([]);
    expect(slots.length).toBeGreaterThanOrEqual(Math.floor((endedMs - 2500 - startedMs) / 1000) - 1);
    const lateness = fires.map((f) => f.lateMs).sort((a, b) => a - b);
    const p99 = lateness[Math.max(0, Math.ceil(lateness.length * 0.99) - 1)]!;
    const latest = lateness.at(-1)!;
    const pauses = beat.events(EVENTS.gapNoticed).map((l) => `${String(l['time'])} paused ${String(l['pausedMs'])} ms`);
    expect(health.every((h) => h.status === 200)).toBe(true);
    const slowest = Math.max(...health.map((h) => h.ms));
    const slow = health.filter((h) => h.ms >= 250).map((h) => `${h.at} ${Math.round(h.ms)} ms during ${h.phase}`);
    const late = fires.filter((f) => f.lateMs > 50).map((f) => `${new Date(f.slot).toISOString()} ${f.lateMs} ms`);
    console.log(
      `hostile schedules: ${slots.length} probe slots, none missed, p99 lateness ${p99} ms, the latest ${latest} ms (${late.join('; ')}); ` +
        `/healthz ${health.length} times, slowest ${Math.round(slowest)} ms (${slow.length} at 250 ms or more: ${slow.join('; ')}); ` +
        `${pauses.length} pauses noticed by the leader (${pauses.join('; ')}); load ${loadavg()[0]?.toFixed(1)}`,
    );
    expect(p99, `the probe's p99 lateness: late slots ${late.join('; ')}`).toBeLessThanOrEqual(50);
    expect(slow, `/healthz took 250 ms or more`).toEqual([]);
    expect(beat.logs.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  }, 180_000);
});

describe('who sees entries', () => {
  const showing = [
    '/status',
    '/api/entries',
    '/api/entries/runtime-args',
    '/ui/api/entries',
    '/ui/api/entries/with-args',
    '/ui/api/overview',
  ];
  const open = ['/healthz', '/readyz', '/metrics'];

  it('shows no arguments to a client not trusted as loopback, nor to a foreign Host, with and without a token configured', async () => {
    const withToken = await start(fresh('access-token'), { BEAT_API_TOKEN: TOKEN });
    const without = await start(fresh('access-none'), {});
    for (const { port, tokenConfigured } of [
      { port: withToken.port, tokenConfigured: true },
      { port: without.port, tokenConfigured: false },
    ]) {
      const label = tokenConfigured ? 'token configured' : 'no token';
      // The oracle can fail: loopback with this server's name is shown the arguments.
      const local = await get(port, '/ui/api/entries/with-args', { host: `127.0.0.1:${port}` });
      expect(local.status, label).toBe(200);
      expect(local.body).toContain(SECRET);
      for (const path of showing) {
        const remote = await get(port, path, { host: `127.0.0.1:${port}` }, '127.0.0.2');
        expect(remote.status, `${label}: ${path} from 127.0.0.2`).toBe(tokenConfigured ? 401 : 403);
        expect(remote.body).not.toContain(SECRET);
        for (const [address, host] of [
          ['127.0.0.1', 'evil.example'],
          ['127.0.0.1', `rebind.example:${port}`],
          ['127.0.0.2', 'evil.example'],
        ] as const) {
          const foreign = await get(port, path, { host }, address);
          expect(foreign.status, `${label}: ${path} from ${address} for ${host}`).toBe(403);
          expect(foreign.body).toMatch(/"code":"API_FOREIGN_HOST"/);
          expect(foreign.body).not.toContain(SECRET);
        }
        const noHost = await raw(port, `GET ${path} HTTP/1.0\r\n\r\n`);
        expect(noHost.body).not.toContain(SECRET);
      }
      for (const path of open) {
        const reply = await get(port, path, { host: 'evil.example' }, '127.0.0.2');
        expect(reply.status, `${label}: ${path}`).toBeLessThan(500);
        expect(reply.body).not.toContain(SECRET);
      }
    }
    // With the token, from anywhere and for any Host: a rebinding page cannot send it.
    const authorised = await get(
      withToken.port,
      '/api/entries/runtime-args',
      { host: 'beat.example', authorization: `Bearer ${TOKEN}` },
      '127.0.0.2',
    );
    expect(authorised.status).toBe(200);
    expect(authorised.body).toContain(SECRET);
  }, 60_000);
});

describe('/status in pages', () => {
  it('answers one page of at most 1000 entries with the offset of the next, and the pages hold every entry once', async () => {
    const name = fresh('paged');
    const entries = await Entries.connect({ url: redis.url(0), deployment: name, prefix: 'tsbeat' });
    const runtime = Array.from({ length: 2500 }, (_, i) => `rt-${String(i).padStart(4, '0')}`);
    await entries.setMany(Object.fromEntries(runtime.map((n) => [n, { task: 't.rt', schedule: 3600 }])));
    await entries.close();
    const { port } = await start(name, {});
    const host = { host: `127.0.0.1:${port}` };
    const json = (reply: Reply): { entries: { name: string }[]; next?: number } =>
      JSON.parse(reply.body.slice(reply.body.indexOf('{'), reply.body.lastIndexOf('}') + 1));
    // The oracle: the file's entries and every runtime entry written, each once.
    const expected = ['tick', 'with-args', 'runtime-args', ...runtime].sort();
    let names: string[];
    const deadline = Date.now() + 15_000;
    do {
      names = [];
      let offset: number | undefined = 0;
      while (offset !== undefined) {
        const reply = await get(port, `/status?offset=${offset}`, host);
        expect(reply.status).toBe(200);
        const page = json(reply);
        expect(page.entries.length).toBeLessThanOrEqual(1000);
        names.push(...page.entries.map((e) => e.name));
        offset = page.next;
      }
    } while (names.length < expected.length && Date.now() < deadline);
    expect([...names].sort()).toEqual(expected);
    const small = json(await get(port, '/status?limit=2&offset=1', host));
    expect(small.entries.map((e) => e.name)).toEqual(['with-args', names[2]]);
    expect(small.next).toBe(3);
    for (const bad of ['limit=0', 'limit=1001', 'offset=-1', 'limit=abc']) {
      const reply = await get(port, `/status?${bad}`, host);
      expect(reply.status, bad).toBe(400);
      expect(reply.body).toMatch(/"code":"API_BAD_REQUEST"/);
    }
  }, 60_000);
});
