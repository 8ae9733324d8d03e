/**
 * The dashboard's server-side pieces without a server: sessions and CSRF, the Origin check, the
 * entry list's filter/sort/page, the next fires with their DST changes, the timeline's counts.
 * The browser and the real process are in test/integration/dashboard.test.ts.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { buildStatus, entryStateText } from '../../src/control/status.js';
import { comingFires, timeline } from '../../src/dashboard/entry-detail.js';
import { buildIndex, pageOf, pageRow } from '../../src/dashboard/entry-rows.js';
import type { ResultIndex, RowQuery } from '../../src/dashboard/entry-rows.js';
import { SESSION_COOKIE, Sessions, sameOrigin, tokensEqual } from '../../src/dashboard/sessions.js';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

describe('dashboard sessions', () => {
  it('opens a session whose cookie and CSRF token authorize a write, until it expires or is closed', () => {
    let now = 1_000_000;
    const sessions = new Sessions(60_000, 10, () => now);
    const { cookie, csrf } = sessions.open(false);
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Max-Age=60$`));
    const id = cookie.split(';')[0]!;
    expect(sessions.authorizes(request({ cookie: id, 'x-csrf-token': csrf }))).toBe(true);
    expect(sessions.authorizes(request({ cookie: id }))).toBe(false);
    expect(sessions.authorizes(request({ cookie: id, 'x-csrf-token': `${csrf}x` }))).toBe(false);
    expect(sessions.authorizes(request({ cookie: `${SESSION_COOKIE}=guessed`, 'x-csrf-token': csrf }))).toBe(false);
    // Used 50 s later: the session slides; 61 s after that use it has expired.
    now += 50_000;
    expect(sessions.find(request({ cookie: id }))).toBeDefined();
    now += 59_000;
    expect(sessions.find(request({ cookie: id }))).toBeDefined();
    now += 61_000;
    expect(sessions.find(request({ cookie: id }))).toBeUndefined();
    const again = sessions.open(true);
    expect(again.cookie).toMatch(/; Secure$/);
    const closing = request({ cookie: again.cookie.split(';')[0]! });
    expect(sessions.close(closing)).toMatch(/Max-Age=0/);
    expect(sessions.find(closing)).toBeUndefined();
  });

  it('holds at most maxSessions, dropping the oldest', () => {
    const sessions = new Sessions(60_000, 2, () => 0);
    const first = sessions.open(false).cookie.split(';')[0]!;
    sessions.open(false);
    sessions.open(false);
    expect(sessions.find(request({ cookie: first }))).toBeUndefined();
  });

  it('compares tokens exactly, whatever their lengths', () => {
    expect(tokensEqual('secret', 'secret')).toBe(true);
    expect(tokensEqual('secret', 'secre')).toBe(false);
    expect(tokensEqual('', 'secret')).toBe(false);
  });

  it('accepts a write from its own Origin or none, refuses another', () => {
    expect(sameOrigin(request({ host: '127.0.0.1:9808', origin: 'http://127.0.0.1:9808' }))).toBe(true);
    expect(sameOrigin(request({ host: '127.0.0.1:9808' }))).toBe(true);
    expect(sameOrigin(request({ host: '127.0.0.1:9808', origin: 'http://evil.example' }))).toBe(false);
    expect(sameOrigin(request({ host: '127.0.0.1:9808', origin: 'http://127.0.0.1:9809' }))).toBe(false);
  });
});

const config = parseConfig(
  {
    name: 'dash',
    timezone: 'UTC',
    beatSchedule: {
      'b-hourly': { task: 'app.hourly', schedule: 3600, options: { queue: 'slow' } },
      'a-minutely': { task: 'app.minutely', schedule: { crontab: { minute: '*' } } },
      'c-off': { task: 'app.minutely', schedule: 60, enabled: false },
      'd-berlin': { task: 'app.morning', schedule: { crontab: { minute: '0', hour: '7' } }, timezone: 'Europe/Berlin' },
    },
  },
  'test',
);
const NOW = Date.parse('2027-03-20T10:00:30Z');

/** A page as the routes answer it: the index paged, the page's rows completed with their status. */
async function listPage(q: Partial<RowQuery>, pausedNames: string[] = []) {
  const paused = new Set(pausedNames);
  const status = new Map(
    buildStatus({ config, states: new Map(), paused, leader: undefined, self: { instance: 't', role: 'cli' }, nowMs: NOW }).entries.map(
      (e) => [e.name, e],
    ),
  );
  const index = await buildIndex({
    config,
    entries: config.entries,
    invalid: [{ name: 'e-bad', origin: 'store', problems: [{ path: 'schedule', message: 'required' }] }],
  });
  // The run columns of the next sort, as status computes them.
  const reads: ResultIndex = {
    runs: new Map(
      [...status.values()].map((e) => [e.name, { nextMs: e.nextRun === null ? null : Date.parse(e.nextRun), lastMs: null, runCount: 0 }]),
    ),
  };
  const { wire, rows } = pageOf(index, query(q), paused, NOW, reads);
  return { ...wire, rows: rows.map((r) => pageRow(r, status.get(r.name), paused)) };
}

const query = (q: Partial<RowQuery>): RowQuery => ({
  q: '',
  state: undefined,
  origin: undefined,
  queue: undefined,
  failing: false,
  sort: 'name',
  descending: false,
  offset: 0,
  limit: 100,
  ...q,
});

describe('dashboard entry rows', () => {
  it('makes one row per entry and per invalid runtime entry, with queue, state and next run', async () => {
    const all = await listPage({}, ['a-minutely']);
    expect(all.rows.map((r) => [r.name, r.origin, r.view?.queue ?? '', r.state])).toEqual([
      ['a-minutely', 'file', 'celery', 'paused'],
      ['b-hourly', 'file', 'slow', 'active'],
      ['c-off', 'file', 'celery', 'disabled'],
      ['d-berlin', 'file', 'celery', 'active'],
      ['e-bad', 'store', '', 'invalid'],
    ]);
    expect(all.rows.find((r) => r.name === 'd-berlin')?.view?.nextRun).toBe('2027-03-21T07:00:00+01:00');
    expect(all.rows.find((r) => r.name === 'e-bad')?.problems).toEqual([{ path: 'schedule', message: 'required' }]);
  });

  it('shows a one-off that made its run as finished, the state beat status gives it, not active', async () => {
    const oneOff = parseConfig({ timezone: 'UTC', beatSchedule: { once: { task: 'app.once', schedule: 60, maxRuns: 1 } } }, 'test');
    const states = new Map([['once', { runCount: 1, slotMs: NOW - 30_000 }]]);
    for (const pausedNames of [[], ['once']]) {
      const paused = new Set(pausedNames);
      const status = buildStatus({ config: oneOff, states, paused, leader: undefined, self: { instance: 't', role: 'cli' }, nowMs: NOW });
      const entry = status.entries[0]!;
      expect(entryStateText(entry)).toBe('finished: ran 1 of 1 time');
      const index = await buildIndex({ config: oneOff, entries: oneOff.entries, invalid: [] });
      expect(pageRow(index.rows[0]!, entry, paused).state).toBe('finished');
    }
  });

  it('filters by words of name, task or queue, by state, source and queue; sorts; pages', async () => {
    const names = async (q: Partial<RowQuery>) => (await listPage(q)).rows.map((x) => x.name);
    expect(await names({ q: 'APP.minutely' })).toEqual(['a-minutely', 'c-off']);
    expect(await names({ q: 'minutely off' })).toEqual(['c-off']);
    expect(await names({ q: 'slow' })).toEqual(['b-hourly']);
    expect(await names({ state: 'disabled' })).toEqual(['c-off']);
    expect(await names({ origin: 'store' })).toEqual(['e-bad']);
    expect(await names({ queue: 'slow' })).toEqual(['b-hourly']);
    // Next run: the minutely one first, then the hourly one (11:00:30), Berlin's 07:00 tomorrow; none last, either way.
    expect(await names({ sort: 'next' })).toEqual(['a-minutely', 'b-hourly', 'd-berlin', 'c-off', 'e-bad']);
    expect(await names({ sort: 'next', descending: true })).toEqual(['d-berlin', 'b-hourly', 'a-minutely', 'c-off', 'e-bad']);
    expect(await names({ sort: 'name', descending: true })).toEqual(['e-bad', 'd-berlin', 'c-off', 'b-hourly', 'a-minutely']);
    // Text sorts: name breaks ties, ascending, in either direction.
    expect(await names({ sort: 'queue' })).toEqual(['e-bad', 'a-minutely', 'c-off', 'd-berlin', 'b-hourly']);
    expect(await names({ sort: 'queue', descending: true })).toEqual(['b-hourly', 'a-minutely', 'c-off', 'd-berlin', 'e-bad']);
    expect(await names({ sort: 'state', descending: true })).toEqual(['e-bad', 'c-off', 'a-minutely', 'b-hourly', 'd-berlin']);
    const page = await listPage({ offset: 2, limit: 2 });
    expect([page.total, page.matched, page.rows.map((x) => x.name)]).toEqual([5, 5, ['c-off', 'd-berlin']]);
  });
});

describe("a page row's next run on the leader", () => {
  const status = (nextSlots: (name: string) => number | null | undefined, paused: string[] = []) =>
    new Map(
      buildStatus({
        config,
        states: new Map(),
        paused: new Set(paused),
        leader: undefined,
        self: { instance: 't', role: 'leader' },
        nowMs: NOW,
        nextSlots,
      }).entries.map((e) => [e.name, e.nextRun]),
    );

  it("is the book's next slot when the book holds the entry, computed when it does not, none when the book has none", () => {
    const booked = Date.parse('2027-03-20T10:07:00Z');
    const next = status((name) => (name === 'a-minutely' ? booked : name === 'b-hourly' ? null : undefined));
    expect(next.get('a-minutely')).toBe('2027-03-20T10:07:00+00:00');
    expect(next.get('b-hourly')).toBeNull();
    // Not in the book: computed from the schedule, as without a book.
    expect(next.get('d-berlin')).toBe('2027-03-21T07:00:00+01:00');
  });

  it('is none while paused or disabled, whatever the book says', () => {
    const next = status(() => NOW + 60_000, ['a-minutely']);
    expect(next.get('a-minutely')).toBeNull();
    expect(next.get('c-off')).toBeNull();
  });
});

describe('dashboard fires and timeline', () => {
  it('marks the DST change between two fires (Europe/Berlin moves to summer time on 2027-03-28)', () => {
    const berlin = config.entries.find((e) => e.name === 'd-berlin')!;
    const fires = comingFires(berlin, Date.parse('2027-03-21T06:00:00Z'), 20);
    expect(fires).toHaveLength(20);
    expect(fires[0]!.at).toBe('2027-03-21T07:00:00+01:00');
    const changes = fires.filter((f) => f.offsetChange !== null);
    expect(changes.map((f) => [f.at, f.offsetChange])).toEqual([['2027-03-28T07:00:00+02:00', 'UTC+01:00 → UTC+02:00']]);
  });

  it('counts the runs of the coming hour per minute', async () => {
    const r = (await listPage({})).rows;
    const start = Date.parse('2027-03-20T10:00:00Z');
    const t = await timeline(r, new Map(config.entries.map((e) => [e.name, e])), start, 3_600_000);
    // a-minutely: every minute from 10:01; b-hourly: first at 11:00:30, outside the hour.
    expect(t.counts).toHaveLength(60);
    expect(t.counts[0]).toBe(0);
    expect(t.counts.slice(1).every((n) => n === 1)).toBe(true);
    expect(t.capped).toBe(0);
    expect(t.peakSecond).toEqual({ atMs: Date.parse('2027-03-20T10:01:00Z'), runs: 1 });
  });
});
