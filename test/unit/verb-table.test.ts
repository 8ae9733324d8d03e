/**
 * The verb table (src/operations/door.ts VERBS) and its routes (src/operations/verb-routes.ts): every
 * verb is served by /api, every route serves a verb on a target it takes, and a target of no known
 * shape is refused rather than read as the whole deployment (a misspelt `{name}` from plain
 * JavaScript would otherwise stop everything).
 */
import { describe, expect, it } from 'vitest';
import { VERBS, runVerb, targetKind } from '../../src/operations/door.js';
import type { Door, VerbName } from '../../src/operations/door.js';
import { VERB_ROUTES, queryValue, verbRoute } from '../../src/operations/verb-routes.js';
import { ROUTES } from '../../src/http/api-routes.js';

describe('the verb table', () => {
  it('serves every verb on /api, and every route of the table is a route of the API', () => {
    const served = new Set(VERB_ROUTES.map((r) => r.verb));
    expect([...served].sort()).toEqual(Object.keys(VERBS).sort());
    const api = new Set(ROUTES.map(({ route }) => `${route.method} ${route.path}`));
    for (const r of VERB_ROUTES) expect(api.has(`${r.method} ${r.path}`), `${r.method} ${r.path}`).toBe(true);
    // One route per verb and kind of target: the client's API path finds exactly one.
    const keys = VERB_ROUTES.map((r) => `${r.verb} ${r.target}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('finds the route of a verb by the kind of target its input names', () => {
    const cases: [VerbName, object, string][] = [
      ['pause', { target: { entry: 'a' } }, 'post /api/entries/{name}/pause'],
      ['pause', { target: { selector: 'team=a', count: 2 } }, 'post /api/selected/pause'],
      ['pause', { target: { all: true } }, 'put /api/stop'],
      ['resume', { target: { all: true } }, 'delete /api/stop'],
      ['trigger', { target: { entry: 'a' }, waitMs: 0 }, 'post /api/entries/{name}/trigger'],
      ['replay', { target: { id: 'x' } }, 'post /api/dead-letters/{id}/replay'],
      ['discard', { target: { selector: 'team=a' } }, 'post /api/dead-letters/discard'],
      ['deadLetters', {}, 'get /api/dead-letters'],
      ['history', { target: { entry: 'a' }, limit: 3 }, 'get /api/entries/{name}/history'],
      ['stop', {}, 'get /api/stop'],
    ];
    for (const [verb, input, route] of cases) {
      const found = verbRoute(verb, input);
      expect(`${found.method} ${found.path}`, `${verb} ${JSON.stringify(input)}`).toBe(route);
    }
    // A query's whole number reaches the verb as a number, a text as it is.
    expect(queryValue(verbRoute('history', { target: { entry: 'a' } }), 'limit', '3')).toBe(3);
    expect(queryValue(verbRoute('deadLetters', {}), 'selector', 'team=a')).toBe('team=a');
    // A verb on a target it does not take has no route (a trigger of the deployment).
    expect(() => verbRoute('trigger', { target: { all: true } })).toThrow(
      expect.objectContaining({ code: 'USAGE', message: expect.stringMatching(/trigger takes no target of this kind \(all\)/) as unknown }),
    );
  });

  it('refuses a target of no known shape, never reading it as the whole deployment', () => {
    for (const target of [{ name: 'a' }, { all: false }, { all: 'yes' }, { all: true, entry: 'a' }, { entry: 3 }, {}]) {
      expect(() => targetKind({ target }), JSON.stringify(target)).toThrow(
        expect.objectContaining({ code: 'USAGE', message: expect.stringMatching(/give \{entry: NAME\}/) as unknown }),
      );
    }
    expect(targetKind({ target: { all: true } })).toBe('all');
    expect(targetKind({})).toBe('none');
  });

  it('refuses a verb a target of another shape before it reads or writes anything, on every door', async () => {
    // A door none of whose parts exists: reaching one would fail with a TypeError, not USAGE.
    const door = {} as Door;
    const by = { who: 'test' };
    const bad: [VerbName, object][] = [
      ['pause', { target: { all: false } }],
      ['resume', { target: { name: 'nightly' } }],
      ['trigger', { target: { all: true } }],
      ['replay', { target: { all: true } }],
      ['discard', { target: { name: 'x' } }],
      ['history', { target: { selector: 'team=a' } }],
    ];
    for (const [verb, input] of bad)
      await expect(runVerb(verb, door, by, input as never), `${verb} ${JSON.stringify(input)}`).rejects.toMatchObject({ code: 'USAGE' });
  });
});
