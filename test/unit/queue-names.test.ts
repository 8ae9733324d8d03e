/**
 * Queue names that can only collide (config/queue-names.ts), against kombu's key names as its Redis
 * transport writes them (kombu/transport/redis.py: keyprefix_queue "_kombu.binding.%s", unacked_key
 * "unacked", unacked_index_key "unacked_index", unacked_mutex_key "unacked_mutex", sep "\x06\x16")
 * and tsbeat's own key shape, written out here by hand.
 */
import { describe, expect, it } from 'vitest';
import { queueCollision, queueNameContext, queueNameProblems } from '../../src/config/queue-names.js';

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
    expect(queueNameProblems({ task: 't', schedule: 1, options: { queue: 'unacked' } }, plain)).toEqual([
      { path: 'options.queue', message: expect.stringContaining('"unacked" is a key of kombu') as unknown },
    ]);
    expect(queueNameProblems({ task: 't', schedule: 1 }, plain)).toEqual([]);
    expect(queueNameProblems({ task: 't', schedule: 1, options: { queue: 'celery' } }, plain)).toEqual([]);
  });
});
