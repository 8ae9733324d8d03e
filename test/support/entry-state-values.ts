/**
 * One table of stored state values, fed to the TypeScript codec (test/unit/entry-state-codec.test.ts)
 * and to every Lua script that reads the state (test/integration/lua-contract.test.ts): each value
 * with the state the rules of src/redis/entry-state-codec.ts read from it, or 'unreadable'.
 * Slots sit around S0; the contract test publishes at S0 + 1000, so a state whose slot is after
 * that makes the run stale.
 */
import type { EntryState } from '../../src/ports/state.js';

export const S0 = 1_700_000_000_000;

export interface StateValue {
  readonly label: string;
  readonly text: string;
  readonly state: EntryState | 'unreadable';
}

const big = '9'.repeat(400);

export const STATE_VALUES: readonly StateValue[] = [
  // Readable: the forms tsbeat writes.
  {
    label: 'a scheduled run (publish form)',
    text: `{"slot":${S0},"at":${S0 + 3},"id":"task-1","n":1}`,
    state: { slotMs: S0, publishedAtMs: S0 + 3, lastTaskId: 'task-1', runCount: 1 },
  },
  {
    label: 'a scheduled run that keeps its first sighting (publish form)',
    text: `{"slot":${S0},"seen":${S0 - 60_000},"at":${S0 + 3},"id":"task-s","n":3}`,
    state: { slotMs: S0, seenMs: S0 - 60_000, publishedAtMs: S0 + 3, lastTaskId: 'task-s', runCount: 3 },
  },
  { label: 'a first sighting', text: `{"seen":${S0},"n":0}`, state: { seenMs: S0, runCount: 0 } },
  { label: 'a first sighting with runs (after manual ones)', text: `{"seen":${S0},"n":12}`, state: { seenMs: S0, runCount: 12 } },
  {
    label: 'a manual run',
    text: `{"slot":${S0},"seen":${S0 - 9},"at":${S0 + 7},"by":"trigger","id":"manual","n":4}`,
    state: { slotMs: S0, seenMs: S0 - 9, publishedAtMs: S0 + 7, lastRunTriggered: true, lastTaskId: 'manual', runCount: 4 },
  },
  {
    label: "a RedBeat or django entry's run (its incarnation, g)",
    text: `{"slot":${S0},"at":${S0 + 3},"id":"task-g","g":"r1700000000000000","n":2}`,
    state: { slotMs: S0, publishedAtMs: S0 + 3, lastTaskId: 'task-g', incarnation: 'r1700000000000000', runCount: 2 },
  },
  {
    label: 'a first sighting of an incarnation',
    text: `{"seen":${S0},"g":"d42","n":0}`,
    state: { seenMs: S0, incarnation: 'd42', runCount: 0 },
  },
  {
    label: 'a scheduled run after manual ones (t kept)',
    text: `{"slot":${S0},"at":${S0 + 3},"id":"task-2","n":5,"t":2}`,
    state: { slotMs: S0, publishedAtMs: S0 + 3, lastTaskId: 'task-2', runCount: 5, manualRuns: 2 },
  },
  {
    label: 'a manual run counted in t',
    text: `{"seen":${S0},"at":${S0 + 7},"by":"trigger","id":"m","n":1,"t":1}`,
    state: { seenMs: S0, publishedAtMs: S0 + 7, lastRunTriggered: true, lastTaskId: 'm', runCount: 1, manualRuns: 1 },
  },
  { label: 't of 0: no manual runs', text: `{"slot":${S0},"n":3,"t":0}`, state: { slotMs: S0, runCount: 3 } },
  {
    label: 'a slot after the published one (stale)',
    text: `{"slot":${S0 + 5000},"at":${S0},"id":"later","n":7}`,
    state: { slotMs: S0 + 5000, publishedAtMs: S0, lastTaskId: 'later', runCount: 7 },
  },
  // Readable: ids at the edges of the fast path's id class (includes/entry-state.lua), which takes
  // printable ASCII but the quote, backslash and ']', and bytes of 128 and above.
  {
    label: 'publish form, an id of every byte the fast path takes',
    text: `{"slot":${S0},"seen":${S0 - 1},"at":${S0},"id":" !#$%&'()*+,-./09:;<=>?@AZ[^_\`az{|}~é😀","n":2}`,
    state: { slotMs: S0, seenMs: S0 - 1, publishedAtMs: S0, lastTaskId: " !#$%&'()*+,-./09:;<=>?@AZ[^_`az{|}~é😀", runCount: 2 },
  },
  {
    label: "publish form, a ']' in the id (the full decode)",
    text: `{"slot":${S0},"seen":${S0 - 1},"at":${S0},"id":"a]b","n":2}`,
    state: { slotMs: S0, seenMs: S0 - 1, publishedAtMs: S0, lastTaskId: 'a]b', runCount: 2 },
  },
  {
    label: 'publish form, a DEL in the id (the full decode)',
    text: `{"slot":${S0},"at":${S0},"id":"a\u007fb","n":2}`,
    state: { slotMs: S0, publishedAtMs: S0, lastTaskId: 'a\u007fb', runCount: 2 },
  },
  // Readable: other spellings of the same JSON.
  {
    label: 'count before id (older AMQP commits)',
    text: `{"slot":${S0},"at":${S0},"n":4,"id":"x"}`,
    state: { slotMs: S0, publishedAtMs: S0, lastTaskId: 'x', runCount: 4 },
  },
  {
    label: 'spaces, other members, exponent',
    text: ` {\t"n" : 2 ,\r\n"slot" : 1.7e12 , "future":"x", "flag":true, "none":null, "neg":-0.5E-3 } `,
    state: { slotMs: 1.7e12, runCount: 2 },
  },
  { label: 'an escaped member name', text: '{"\\u006e":3}', state: { runCount: 3 } },
  {
    label: 'escapes in the id',
    text: `{"slot":${S0},"at":${S0},"id":"a\\"b\\/c\\u00e9\\ud83d\\ude00","n":2}`,
    state: { slotMs: S0, publishedAtMs: S0, lastTaskId: 'a"b/cé😀', runCount: 2 },
  },
  { label: 'by another string: a scheduled run', text: '{"n":1,"by":"api"}', state: { runCount: 1 } },
  { label: 'a duplicate member: the last one counts', text: '{"n":"x","n":5}', state: { runCount: 5 } },
  { label: 'a fractional slot', text: '{"slot":1.5,"n":1}', state: { slotMs: 1.5, runCount: 1 } },
  { label: 'the largest count', text: '{"n":9007199254740991}', state: { runCount: 9007199254740991 } },
  { label: 'a count and nothing else', text: '{"n":0}', state: { runCount: 0 } },
  // Unreadable: not a JSON object.
  { label: 'not JSON', text: '{not json', state: 'unreadable' },
  { label: 'an incarnation that is not a string', text: `{"slot":${S0},"g":42,"n":1}`, state: 'unreadable' },
  { label: 'empty', text: '', state: 'unreadable' },
  { label: 'null', text: 'null', state: 'unreadable' },
  { label: 'an array', text: '[]', state: 'unreadable' },
  { label: 'a string', text: '"text"', state: 'unreadable' },
  { label: 'a number', text: '42', state: 'unreadable' },
  { label: 'trailing text', text: '{"n":1} x', state: 'unreadable' },
  { label: 'a trailing comma', text: '{"n":1,}', state: 'unreadable' },
  { label: 'text after a NUL byte', text: '{"n":1}\u0000junk', state: 'unreadable' },
  { label: 'a byte order mark', text: '\ufeff{"n":1}', state: 'unreadable' },
  // Unreadable: JSON that Redis's cjson would take, JSON.parse not.
  { label: 'a hexadecimal count', text: '{"n":0x10}', state: 'unreadable' },
  { label: 'a plus sign', text: '{"n":+1}', state: 'unreadable' },
  { label: 'a leading zero', text: '{"n":01}', state: 'unreadable' },
  { label: 'a bare decimal point', text: '{"n":1.}', state: 'unreadable' },
  { label: 'Infinity', text: '{"n":Infinity}', state: 'unreadable' },
  { label: 'NaN', text: '{"slot":NaN,"n":1}', state: 'unreadable' },
  { label: 'a raw tab in a string', text: '{"n":1,"id":"a\tb"}', state: 'unreadable' },
  { label: 'a lone surrogate in the id', text: '{"n":1,"id":"\\ud800"}', state: 'unreadable' },
  { label: 'a negative manual count', text: '{"n":1,"t":-1}', state: 'unreadable' },
  { label: 'a fractional manual count', text: '{"n":1,"t":0.5}', state: 'unreadable' },
  { label: 'a manual count as a string', text: '{"n":1,"t":"1"}', state: 'unreadable' },
  { label: "a lone surrogate in another member's name", text: '{"n":1,"\\udc00":1}', state: 'unreadable' },
  // Unreadable: the wrong shape or types.
  { label: 'no count', text: `{"slot":${S0}}`, state: 'unreadable' },
  { label: 'an empty object', text: '{}', state: 'unreadable' },
  { label: 'a slot that is a string', text: `{"slot":"${S0}","n":1}`, state: 'unreadable' },
  { label: 'a negative count', text: '{"n":-1}', state: 'unreadable' },
  { label: 'a fractional count', text: '{"n":1.5}', state: 'unreadable' },
  { label: 'a count that is a string', text: '{"n":"1"}', state: 'unreadable' },
  { label: 'a count past 2^53-1', text: '{"n":9007199254740992}', state: 'unreadable' },
  { label: 'a count of null', text: '{"n":null}', state: 'unreadable' },
  { label: 'a slot of null', text: '{"slot":null,"n":1}', state: 'unreadable' },
  { label: 'an infinite slot', text: '{"slot":1e400,"n":1}', state: 'unreadable' },
  { label: 'an id that is a number', text: '{"id":5,"n":1}', state: 'unreadable' },
  { label: 'by that is not a string', text: '{"by":true,"n":1}', state: 'unreadable' },
  { label: 'a nested object', text: '{"n":1,"x":{}}', state: 'unreadable' },
  { label: 'a nested array', text: '{"n":1,"x":[1]}', state: 'unreadable' },
  // Unreadable although shaped like the publish script's fast path.
  { label: 'publish form, a slot with a leading zero', text: `{"slot":0${S0},"at":${S0},"id":"x","n":1}`, state: 'unreadable' },
  { label: 'publish form, a count past 2^53-1', text: `{"slot":${S0},"at":${S0},"id":"x","n":9007199254740992}`, state: 'unreadable' },
  { label: 'publish form, an infinite publish time', text: `{"slot":${S0},"at":${big},"id":"x","n":1}`, state: 'unreadable' },
  { label: 'publish form, an infinite slot', text: `{"slot":${big},"at":${S0},"id":"x","n":1}`, state: 'unreadable' },
  { label: 'publish form, a control character in the id', text: `{"slot":${S0},"at":${S0},"id":"a\u0001b","n":1}`, state: 'unreadable' },
  {
    label: 'publish form, the last control character in the id',
    text: `{"slot":${S0},"seen":${S0},"at":${S0},"id":"a\u001fb","n":1}`,
    state: 'unreadable',
  },
  { label: 'publish form, a NUL in the id', text: `{"slot":${S0},"at":${S0},"id":"a\u0000b","n":1}`, state: 'unreadable' },
  {
    label: 'publish form, a first sighting with a leading zero',
    text: `{"slot":${S0},"seen":0${S0},"at":${S0},"id":"x","n":1}`,
    state: 'unreadable',
  },
  { label: 'publish form, text after it', text: `{"slot":${S0},"at":${S0},"id":"x","n":1}}`, state: 'unreadable' },
  { label: 'sighting form, a count with a leading zero', text: `{"seen":${S0},"n":00}`, state: 'unreadable' },
  { label: 'sighting form, an infinite anchor', text: `{"seen":${big},"n":0}`, state: 'unreadable' },
];
