/**
 * Bounded I/O: lists of any size go through src/base/chunks.ts, never spread into one call. The
 * helpers are checked at 200,000 elements (well past the ~45,000 at which a spread overflows the
 * stack) against plain loops; then every spread into a call or `new` in src/ is found with the
 * TypeScript parser and must be a `...chunk` (a slice of chunksOf / readInChunks) or one of the
 * spreads below, each bounded for the reason given. A new unbounded spread fails here: chunk it, or
 * add it with its bound.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { chunksOf, maxOf, pushAll, readInChunks } from '../../src/base/chunks.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { repoRoot } from '../support/cli.js';

const BIG = 200_000;

describe('base/chunks.ts on lists too large to spread', () => {
  const xs = Array.from({ length: BIG }, (_, i) => (i * 7919) % 100_003);

  it('a spread of this size does overflow the stack (why the helpers exist)', () => {
    expect(() => Math.max(...Array.from({ length: 2_000_000 }, () => 1))).toThrow(RangeError);
  });

  it('chunksOf slices in order, none longer than the size, together the whole list', () => {
    const chunks = [...chunksOf(xs, DEFAULTS.ioChunk)];
    expect(chunks.length).toBe(Math.ceil(BIG / DEFAULTS.ioChunk));
    expect(chunks.every((c) => c.length <= DEFAULTS.ioChunk && c.length > 0)).toBe(true);
    // One expect for the whole list: 200,000 of them would be most of this file's time.
    let i = 0;
    let wrong = 0;
    for (const chunk of chunks) for (const x of chunk) if (x !== xs[i++]) wrong += 1;
    expect({ seen: i, wrong }).toEqual({ seen: BIG, wrong: 0 });
    expect([...chunksOf([], 3)]).toEqual([]);
    expect(() => [...chunksOf(xs, 0)]).toThrow(RangeError);
  });

  it('readInChunks calls once per chunk, one at a time, and joins the answers in order', async () => {
    let inFlight = 0;
    let calls = 0;
    const doubled = await readInChunks(
      xs,
      async (chunk) => {
        calls += 1;
        inFlight += 1;
        if (inFlight !== 1) throw new Error('two reads in flight');
        await new Promise((resolve) => setImmediate(resolve));
        inFlight -= 1;
        return chunk.map((x) => x * 2);
      },
      7_000,
    );
    expect(calls).toBe(Math.ceil(BIG / 7_000));
    expect(doubled.length).toBe(BIG);
    expect(doubled.filter((d, i) => d !== (xs[i] as number) * 2).length).toBe(0);
  });

  it('pushAll and maxOf agree with loops', () => {
    const target = [1, 2];
    expect(pushAll(target, xs)).toBe(target);
    expect(target.length).toBe(BIG + 2);
    expect(target[2]).toBe(xs[0]);
    expect(target[BIG + 1]).toBe(xs[BIG - 1]);
    let max = -Infinity;
    for (const x of xs) if (x > max) max = x;
    expect(maxOf(xs)).toBe(max);
    expect(maxOf([])).toBe(-Infinity);
    expect(maxOf([], 0)).toBe(0);
    expect(maxOf([3, Number.NaN, 5])).toBeNaN();
    expect(maxOf([-5, -2, -9])).toBe(-2);
  });
});

/** Spreads into calls known to be bounded: `file callee` → why. */
const BOUNDED: Record<string, string> = {
  'src/commands/main.ts Math.max': "the commands' names",
  'src/base/log.ts this.debug': 'the arguments of one log call (a warning logged at debug level instead)',
  'src/core/cron/spec.ts Math.max': 'twelve months',
  'src/kombu/task-events.ts client.psubscribe': 'the task and worker event patterns, two at most',
  'src/commands/entries-set.ts problems.push': "one entry's problems",
  'src/config/connection-checks.ts problems.push': "the SQS broker settings' problems",
  'src/publish/send-then-commit-dispatcher.ts this.redis.claimFenced': 'one batch: at most DEFAULTS.dispatchBatchRuns runs',
  'src/publish/send-then-commit-dispatcher.ts this.redis.commitFenced': 'one batch: at most DEFAULTS.dispatchBatchRuns runs',
  'src/publish/send-then-commit-dispatcher.ts this.redis.commitTrigger': 'the keys of one manual run',
  'src/publish/send-then-commit-dispatcher.ts this.redis.retryFenced': 'the five keys of one attempt (claim and commit)',
  'src/kombu/redis-transport.ts this.scripts[script]':
    "the fenced publish's keys: four of the deployment's and the lists one batch pushes to (at most DEFAULTS.dispatchBatchRuns runs)",
  'src/publish/confirmed-backfill.ts scripts.backfillFenced':
    'one step of a backfill: at most DEFAULTS.backfillChunk slots, three values each',
  'src/publish/redis-fenced-dispatcher.ts withScripts(this.broker.client).triggerFenced': 'one manual run',
  'src/publish/redis-fenced-dispatcher.ts withScripts(this.broker.client).retryFenced': 'one attempt of one slot',
  'src/publish/redis-fenced-dispatcher.ts withScripts(this.broker.client).backfillFenced':
    'one step of a backfill: at most DEFAULTS.backfillChunk slots, a few values each',
  'src/redbeat/write-back.ts scripts.redbeatMeta': 'one batch of the write-back (BATCH runs)',
  'src/redis/seed-states.ts scripts.seedState': 'a chunk of CHUNK (1,000) seeds',
  'src/redis/seed-states.ts client.hmget': 'the stored states of a chunk of CHUNK (1,000) seeds',
  'src/redbeat/wiring.ts state.hmget': "the write-back's states: one batch (BATCH entries)",
  'src/redis/alert-outbox.ts withScripts(this.client).alertsOutbox': 'one operation, or a chunk of enqueued deliveries',
  'src/redis/control-store.ts this.client.hmget': 'the fields of the leader hash',
  'src/redis/control-store.ts withScripts(this.client).leaderInfo': 'the fields of the leader hash',
  'src/redis/replica-registry.ts withScripts(this.client).replicaBeat': "one replica's record",
  'src/redis/run-history-store.ts scripts.runHistory': 'one run',
  'src/redis/state-store.ts this.client.hmget': 'readSome: at most STATE_READ_BY_NAME_MAX names (more are read whole)',
  'src/redis/state-store.ts scripts.recordSeen': 'a chunk of STATE_SEEN_CHUNK names',
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'ui' ? [] : sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('no unbounded spread into a call in src/', () => {
  it('every spread argument is a chunk or known to be bounded', () => {
    const found: string[] = [];
    const used = new Set<string>();
    // src/ui/ is the browser page: it renders one page of rows (the dashboard's API pages them).
    for (const file of sources(join(repoRoot, 'src'))) {
      const rel = relative(repoRoot, file);
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if ((ts.isCallExpression(node) || ts.isNewExpression(node)) && node.arguments !== undefined) {
          for (const arg of node.arguments) {
            if (!ts.isSpreadElement(arg)) continue;
            if (ts.isIdentifier(arg.expression) && arg.expression.text === 'chunk') continue;
            const key = `${rel} ${node.expression.getText(source)}`;
            if (key in BOUNDED) used.add(key);
            else
              found.push(
                `${rel}:${source.getLineAndCharacterOfPosition(arg.getStart(source)).line + 1}: ${key}(...${arg.expression.getText(source)})`,
              );
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(found, 'spread into a call: use base/chunks.ts, or add it to BOUNDED with its bound').toEqual([]);
    // A bounded spread that went away leaves its line here.
    expect(Object.keys(BOUNDED).filter((k) => !used.has(k))).toEqual([]);
  });
});
