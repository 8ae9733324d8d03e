import { describe, expect, it } from 'vitest';
import { resolveDestination } from '../../src/celery/routing.js';
import type { OptionsInput, TaskRoutesInput } from '../../src/config/options-schema.js';
import { optionsSchema } from '../../src/config/options-schema.js';
import { config } from '../support/messages.js';

function route(task: string, options: OptionsInput = {}, routes?: TaskRoutesInput, taskDefaultQueue?: string) {
  return resolveDestination(
    task,
    optionsSchema.parse(options),
    config({ ...(routes ? { taskRoutes: routes } : {}), ...(taskDefaultQueue ? { taskDefaultQueue } : {}) }),
  );
}

describe('queue choice (Celery Router.route)', () => {
  it('sends a task with no queue and no route to taskDefaultQueue through the anonymous exchange', () => {
    expect(route('proj.add', {}, undefined, 'default-q')).toEqual({
      exchange: '',
      exchangeType: 'direct',
      routingKey: 'default-q',
      declareQueue: 'default-q',
      priority: undefined,
      matchedRoute: undefined,
    });
  });

  it('lets options.queue win over a matching route', () => {
    expect(route('proj.add', { queue: 'explicit' }, { 'proj.*': 'routed' })).toMatchObject({
      routingKey: 'explicit',
      declareQueue: 'explicit',
      matchedRoute: 'proj.*',
    });
  });

  it('uses the first matching rule, trying exact names, globs and regexes in order', () => {
    const routes: TaskRoutesInput = [{ 'proj.add': 'exact' }, { 'proj.*': 'glob', '/^proj\\./': 'regex' }];
    expect(route('proj.add', {}, routes)).toMatchObject({ routingKey: 'exact' });
    expect(route('proj.mul', {}, routes)).toMatchObject({ routingKey: 'glob', matchedRoute: 'proj.*' });
    expect(route('other.x', {}, [{ '/^other\\.(x|y)$/': { queue: 'rx' } }])).toMatchObject({ routingKey: 'rx' });
  });

  it('matches a regex route at the start only, like re.match', () => {
    expect(route('proj.add', {}, { '/add/': 'rx' })).toMatchObject({ routingKey: 'celery', matchedRoute: undefined });
    expect(route('add.proj', {}, { '/add/': 'rx' })).toMatchObject({ routingKey: 'rx' });
  });

  it("keeps a route's priority unless the options give one, and the options' one otherwise", () => {
    expect(route('proj.add', {}, { 'proj.*': { queue: 'q', priority: 3 } })).toMatchObject({ priority: 3 });
    expect(route('proj.add', { priority: 0 }, { 'proj.*': { queue: 'q', priority: 3 } })).toMatchObject({ priority: 0 });
  });
});

describe('exchange and routing key (send_task_message)', () => {
  it('stays on the anonymous route when only one of exchange and routingKey is given', () => {
    expect(route('proj.add', { queue: 'q', exchange: 'ex' })).toMatchObject({ exchange: '', routingKey: 'q' });
    expect(route('proj.add', { queue: 'q', routingKey: 'rk' })).toMatchObject({ exchange: '', routingKey: 'q' });
  });

  it('leaves the anonymous route when both exchange and routingKey are given, still declaring the queue', () => {
    expect(route('proj.add', { queue: 'q', exchange: 'ex', routingKey: 'rk' })).toMatchObject({
      exchange: 'ex',
      exchangeType: 'direct',
      routingKey: 'rk',
      declareQueue: 'q',
    });
  });

  it('takes exchange and routing key from a route that names no queue, and declares no queue then', () => {
    expect(route('proj.add', {}, { 'proj.*': { exchange: 'ex', routingKey: 'rk' } })).toMatchObject({
      exchange: 'ex',
      routingKey: 'rk',
      declareQueue: undefined,
    });
  });

  it('publishes a topic type without an exchange to the queue-named exchange with the queue as routing key', () => {
    expect(route('proj.add', { queue: 'q', exchangeType: 'topic' })).toMatchObject({
      exchange: 'q',
      exchangeType: 'topic',
      routingKey: 'q',
    });
    expect(route('proj.add', { queue: 'q', exchangeType: 'topic', routingKey: 'a.b' })).toMatchObject({ exchange: 'q', routingKey: 'a.b' });
  });

  it('publishes to a named fanout exchange even without a routing key', () => {
    expect(route('proj.add', { exchange: 'bus', exchangeType: 'fanout' })).toMatchObject({
      exchange: 'bus',
      exchangeType: 'fanout',
      routingKey: '',
      declareQueue: 'celery',
    });
  });

  it('does not lose a task whose route names an exchange but neither queue nor routing key (Celery would publish to None)', () => {
    expect(route('proj.add', {}, { 'proj.*': { exchange: 'ex' } })).toMatchObject({
      exchange: '',
      routingKey: 'celery',
      declareQueue: 'celery',
    });
  });
});
