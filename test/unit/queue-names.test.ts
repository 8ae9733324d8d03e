/**
 * Queue names that can only collide (config/queue-names.ts), against kombu's key names as its Redis
 * transport writes them (kombu/transport/redis.py: keyprefix_queue "_kombu.binding.%s", unacked_key
 * "unacked", unacked_index_key "unacked_index", unacked_mutex_key "unacked_mutex", sep "\x06\x16")
 * and tsbeat's own key shape, written out here by hand.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/base/errors.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { parseConfig } from '../../src/config/load.js';
import { formatPath } from '../../src/config/problems.js';
import { queueCollision, queueNameContext, queueNameProblems } from '../../src/config/queue-names.js';
import type { QueuedEntry } from '../../src/config/queue-names.js';

const plain = queueNameContext('tsbeat', {});

describe('queue names that can only collide', () => {
  it.each([
    'tsbeat:{prod}:state',
    'tsbeat:anything',
    '{other}:entries',
    'custom-prefix:{billing}:paused',
    '_kombu.binding.celery',
    '_kombu.binding.reply.celery.pidbox',
    'unacked',
    'unacked_index',
    'unacked_mutex',
    'celery\x06\x163',
  ])('refuses %j', (queue) => {
    expect(queueCollision(queue, plain)).toMatch(/choose a queue name of your own$/);
  });

  it.each(['celery', 'reports', 'tsbeat', 'tsbeat-jobs', 'a:b', 'unacked2', 'kombu.binding', 'app:{x}', 'high\x06'])(
    'takes %j',
    (queue) => {
      expect(queueCollision(queue, plain)).toBeUndefined();
    },
  );

  it("follows the deployment's prefixes and separator", () => {
    expect(queueCollision('jobs:{a}:x', queueNameContext('', {}))).toContain('shape of a tsbeat deployment');
    expect(queueCollision('state', queueNameContext('beat', { globalKeyprefix: 'beat:' }))).toContain('under tsbeat\'s own prefix "beat:"');
    expect(queueCollision('tsbeat:x', queueNameContext('other', {}))).toBeUndefined();
    expect(queueCollision('q|3', queueNameContext('tsbeat', { sep: '|' }))).toContain('priority separator');
    expect(queueCollision('celery\x06\x163', queueNameContext('tsbeat', { sep: '|' }))).toBeUndefined();
  });

  it('names the path of the queue in an entry, and nothing for an entry without one', () => {
    expect(queueNameProblems(parsed({ task: 't', schedule: 1, options: { queue: 'unacked' } }), plain)).toEqual([
      { path: ['options', 'queue'], message: expect.stringContaining('"unacked" is a key of kombu') as unknown },
    ]);
    expect(queueNameProblems(parsed({ task: 't', schedule: 1 }), plain)).toEqual([]);
    expect(queueNameProblems(parsed({ task: 't', schedule: 1, options: { queue: 'celery' } }), plain)).toEqual([]);
  });

  // Issue 66: a canvas's queue pushed onto `tsbeat:{name}:stop` stopped the whole deployment.
  const stop = { queue: 'tsbeat:{prod}:stop' };
  const sig = (options: object = {}) => ({ task: 'proj.t', options });
  it.each([
    ['a chain step', { chain: [sig(), sig(), sig(stop)] }, 'chain[2].options.queue'],
    ['a group member', { group: [sig(), sig(stop)] }, 'group[1].options.queue'],
    ["a group member's chain", { group: [{ chain: [sig(), sig(stop)] }] }, 'group[0].chain[1].options.queue'],
    ["a chord header's member", { chord: { header: [sig(stop)], body: sig() } }, 'chord.header[0].options.queue'],
    ["a chord's body", { chord: { header: [sig()], body: sig(stop) } }, 'chord.body.options.queue'],
    ["a chain's group step", { chain: [sig(), { group: [sig(stop)] }] }, 'chain[1].group[0].options.queue'],
    ["a chain's chord body", { chain: [sig(), { chord: { header: [sig()], body: sig(stop) } }] }, 'chain[1].chord.body.options.queue'],
    ["the entry's link", { task: 'proj.t', link: [sig(stop)] }, 'link[0].options.queue'],
    ["the entry's linkError", { task: 'proj.t', link_error: [sig(), sig(stop)] }, 'linkError[1].options.queue'],
    [
      "a step's linkError's link",
      { chain: [{ ...sig(), linkError: [{ ...sig(), link: [sig(stop)] }] }] },
      'chain[0].linkError[0].link[0].options.queue',
    ],
  ])('refuses a queue that can only collide in %s', (_where, canvas, path) => {
    const problems = queueNameProblems(parsed({ schedule: 1, ...canvas }), plain);
    expect(problems.map((p) => [formatPath(p.path), p.message])).toEqual([
      [path, expect.stringContaining("under tsbeat's own prefix") as unknown],
    ]);
  });

  it('names every bad signature of a canvas, and none of a canvas of plain queues', () => {
    const canvas = {
      schedule: 1,
      options: { queue: '_kombu.binding.celery' },
      chain: [sig({ queue: 'unacked' }), sig({ queue: 'celery' })],
    };
    expect(queueNameProblems(parsed(canvas), plain).map((p) => formatPath(p.path))).toEqual(['options.queue', 'chain[0].options.queue']);
    const fine = {
      schedule: 1,
      chord: {
        header: [sig({ queue: 'a' }), { chain: [sig({ queue: 'b' })] }],
        body: { ...sig({ queue: 'c' }), link: [sig({ queue: 'd' })] },
      },
    };
    expect(queueNameProblems(parsed(fine), plain)).toEqual([]);
  });
});

describe("a config file's queues", () => {
  const problemsOf = (config: Record<string, unknown>): { path: string; message: string }[] => {
    try {
      parseConfig({ name: 'prod', ...config }, 'beat.yaml');
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.problems.map(({ path, message }) => ({ path, message }));
    }
  };

  it("refuses an entry's, a canvas signature's, the default queue and a route's that can only collide, each at its path", () => {
    const problems = problemsOf({
      beatSchedule: {
        own: { task: 't', schedule: 1, options: { queue: 'unacked' } },
        canvas: {
          schedule: 1,
          chain: [{ task: 't' }, { chord: { header: [{ task: 't' }], body: { task: 't', options: { queue: 'tsbeat:{prod}:stop' } } } }],
        },
        fine: { task: 't', schedule: 1, options: { queue: 'reports' }, link: [{ task: 't', options: { queue: 'celery' } }] },
      },
      taskDefaultQueue: '_kombu.binding.celery',
      taskRoutes: [{ 'proj.*': 'tsbeat:{other}:lock' }, { 'app.*': { queue: 'ok' }, 'x.*': { queue: 'q\x06\x161' } }],
    });
    expect(problems.map((p) => p.path)).toEqual([
      'beatSchedule.own.options.queue',
      'beatSchedule.canvas.chain[1].chord.body.options.queue',
      'taskDefaultQueue',
      'taskRoutes[0]["proj.*"]',
      'taskRoutes[1]["x.*"].queue',
    ]);
    for (const p of problems) expect(p.message).toMatch(/choose a queue name of your own$/);
  });

  it('takes them on a broker whose queues are not Redis keys, and plain names on Redis', () => {
    const entries = { beatSchedule: { canvas: { schedule: 1, chain: [{ task: 't', options: { queue: 'tsbeat:{prod}:stop' } }] } } };
    expect(problemsOf({ ...entries, broker: { url: 'amqp://guest:guest@127.0.0.1:5672//' } })).toEqual([]);
    expect(problemsOf({ beatSchedule: { a: { schedule: 1, group: [{ task: 't', options: { queue: 'reports' } }] } } })).toEqual([]);
  });
});

function parsed(value: unknown): QueuedEntry {
  const result = parseEntryDefinition(value);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.entry;
}
