/**
 * The timeline of the coming hour or day (runs per minute), the deployment (leader, standbys,
 * lock, connections, version) and the concurrency groups' line above the entry list.
 */
import { get } from './api.js';
import { fill, h, relative } from './dom.js';
import { fetchStrips, legend, strip } from './strips-view.js';
import type { OverviewWire, PageWire, TimelineWire } from '../dashboard/wire.js';

/** Entries whose past the timeline shows: the first of the list by result (failures first). */
const PAST_ROWS = 50;
/** Past this many entries the order by result (which reads every entry's history) gives way to the order by name. */
const BY_RESULT_MAX = 10_000;

/** The past hour or day of the list's first entries, failures first (by name in a large deployment): what became of their slots. */
async function pastView(day: boolean, entries: number): Promise<HTMLElement> {
  const byResult = entries <= BY_RESULT_MAX;
  const page = await get<PageWire>(`/ui/api/entries?limit=${PAST_ROWS}&sort=${byResult ? 'result' : 'name'}&state=active`);
  const names = page.rows.map((r) => r.name);
  const strips = await fetchStrips(names, day ? 'day' : 'hour');
  return h(
    'div',
    { class: 'strips-past' },
    h('h2', {}, day ? 'The past day' : 'The past hour'),
    h(
      'p',
      { class: 'hint' },
      `What became of each slot, ${day ? 'a cell per 15 minutes' : 'a cell per minute'}: the ${names.length} first active entries of ${page.matched}, ${byResult ? 'failing first' : 'by name'}.`,
    ),
    legend(),
    h(
      'div',
      { class: 'past-grid' },
      ...names.flatMap((name) => [
        h('a', { href: `#/entry/${encodeURIComponent(name)}` }, name),
        strip(strips, name, `${name}: the past ${day ? 'day' : 'hour'}`),
      ]),
    ),
  );
}

export async function timelineView(root: HTMLElement, day: boolean, entries: number): Promise<void> {
  const t = await get<TimelineWire>(`/ui/api/timeline?span=${day ? 'day' : 'hour'}`);
  const max = Math.max(1, ...t.counts);
  const total = t.counts.reduce((a, b) => a + b, 0);
  const label = (i: number): string => new Date(t.startMs + i * t.bucketMs).toISOString().slice(11, 16);
  const bars = h(
    'div',
    {
      class: `bars ${day ? 'day' : 'hour'}`,
      role: 'img',
      'aria-label': `${total} runs in the coming ${day ? 'day' : 'hour'}, at most ${max} in one minute`,
    },
    ...t.counts.map((n, i) => {
      const bar = h('div', { class: 'bar', title: `${label(i)} UTC: ${n} runs` });
      // A CSS custom property set through the DOM, not a style attribute in markup (the CSP allows no inline style text).
      bar.style.setProperty('--h', `${(100 * n) / max}%`);
      return bar;
    }),
  );
  const busiest = t.counts
    .map((n, i) => [n, i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, 5)
    .filter(([n]) => n > 0);
  const past = await pastView(day, entries);
  fill(
    root,
    h('h1', {}, 'Timeline'),
    h(
      'div',
      { class: 'filters' },
      h('a', { href: '#/timeline', 'aria-current': day ? undefined : 'page' }, 'Hour'),
      h('a', { href: '#/timeline/day', 'aria-current': day ? 'page' : undefined }, 'Day'),
    ),
    past,
    h('h2', {}, day ? 'The next day' : 'The next hour'),
    h('p', {}, `${total} runs from ${label(0)} UTC, per minute; the highest bar is ${max}.`),
    t.peakSecond.runs > 0
      ? h(
          'p',
          { class: 'peak-second' },
          `The busiest second: ${new Date(t.peakSecond.atMs).toISOString().slice(11, 19)} UTC, ${t.peakSecond.runs} ${t.peakSecond.runs === 1 ? 'run starts' : 'runs start'} in it.`,
        )
      : null,
    bars,
    h(
      'div',
      { class: 'axis' },
      h('span', {}, label(0)),
      h('span', {}, label(Math.floor(t.counts.length / 2))),
      h('span', {}, label(t.counts.length - 1)),
    ),
    busiest.length > 0 ? h('h2', {}, 'Busiest minutes') : null,
    busiest.length > 0 ? h('ul', {}, ...busiest.map(([n, i]) => h('li', {}, `${label(i)} UTC: ${n} runs`))) : null,
    t.capped > 0
      ? h(
          'p',
          { class: 'hint' },
          `${t.capped} ${t.capped === 1 ? 'entry fires' : 'entries fire'} too often to count ${t.capped === 1 ? 'all its runs' : 'all their runs'} here.`,
        )
      : null,
  );
}

/** A heartbeat's age: tenths of a second while it is fresh, so that the page shows it moving. */
function ageText(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s ago` : relative(-ms, 0);
}

/** Every beat run of the deployment (the replicas registry): the leaders first, then the standbys. */
function replicasTable(o: OverviewWire): HTMLElement {
  if (o.replicas.length === 0) return h('p', { class: 'hint' }, 'No replica has a recent heartbeat in Redis.');
  const head = ['Role', 'Instance', 'Host', 'PID', 'Version', 'Started', 'Heartbeat', 'HTTP'];
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'entries replicas' },
      h('thead', {}, h('tr', {}, ...head.map((label) => h('th', { scope: 'col' }, label)))),
      h(
        'tbody',
        {},
        ...o.replicas.map((r) =>
          h(
            'tr',
            { 'data-replica': r.instance, 'data-role': r.role },
            h('td', { 'data-label': 'Role' }, h('span', { class: `badge ${r.role === 'leader' ? 'active' : 'disabled'}` }, r.role)),
            h('td', { 'data-label': 'Instance' }, r.instance === o.self.instance ? `${r.instance} (this replica)` : r.instance),
            h('td', { 'data-label': 'Host' }, r.host),
            h('td', { 'data-label': 'PID' }, String(r.pid)),
            h('td', { 'data-label': 'Version' }, r.version),
            h('td', { 'data-label': 'Started', title: r.startedAt }, relative(Date.parse(r.startedAt), o.nowMs)),
            h('td', { 'data-label': 'Heartbeat', title: r.lastHeartbeat }, ageText(r.heartbeatAgeMs)),
            h('td', { 'data-label': 'HTTP' }, r.http ?? '—'),
          ),
        ),
      ),
    ),
  );
}

/** Who leads: the leader and its lock. */
function leadingFacts(o: OverviewWire): [string, string][] {
  return [
    ['Leader', o.leader === null ? 'NONE: no beat run instance holds the lock' : `${o.leader.instance} since ${o.leader.since}`],
    ['Lock expires', o.lockExpiresInMs === null ? '—' : relative(o.nowMs + o.lockExpiresInMs, o.nowMs)],
  ];
}

/** What `beat status` says of a concurrency group: its runs in flight, waiting, its limit and entries. */
function groupText(g: OverviewWire['groups'][number]): string {
  return `group ${g.group}: ${g.running} running, ${g.waiting} waiting, limit ${g.limit} (${g.entries} entr${g.entries === 1 ? 'y' : 'ies'})`;
}

/**
 * Keeps the line per concurrency group at the top of `root` (the entry list) as the overview says
 * now, updated in place at each refresh; gone when there is none.
 */
export function groupsLine(root: HTMLElement, o: OverviewWire): void {
  let line = root.querySelector<HTMLElement>(':scope > ul.groups');
  if (o.groups.length === 0) {
    line?.remove();
    return;
  }
  if (line === null) {
    line = h('ul', { class: 'groups', 'aria-label': 'Concurrency groups' });
    root.prepend(line);
  }
  line.replaceChildren(...o.groups.map((g) => h('li', { class: g.waiting > 0 ? 'waiting' : undefined }, groupText(g))));
}

export function deploymentView(root: HTMLElement, o: OverviewWire): void {
  const standbys = o.replicas.filter((r) => r.role === 'standby').length;
  const rows: [string, string][] = [
    ['Deployment', o.deployment],
    ...(o.stopped === null
      ? []
      : ([
          [
            'Stopped',
            `by ${o.stopped.by} since ${o.stopped.since}${o.stopped.note === null ? '' : ` (note: ${o.stopped.note})`}: nothing is published`,
          ],
        ] as [string, string][])),
    ...leadingFacts(o),
    ['Standbys', standbys > 0 ? String(standbys) : 'none: no replica can take over if the leader stops'],
    ['This replica', `${o.self.instance} (${o.self.role})`],
    ['Redis', o.redis],
    ['Broker', o.broker],
    ['Version', `tsbeat ${o.version}`],
    [
      'Entries',
      `${o.counts.entries}: ${o.counts.active} active, ${o.counts.paused} paused, ${o.counts.disabled} disabled, ${o.counts.invalid} invalid`,
    ],
    ['Actions', o.actions === 'off' ? 'off (no API token configured)' : o.actions === 'on' ? 'on (logged in)' : 'log in to enable'],
  ];
  fill(
    root,
    h('h1', {}, 'Deployment'),
    h('dl', { class: 'facts' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    o.warnings.length > 0 ? h('h2', {}, 'Warnings') : null,
    o.warnings.length > 0 ? h('ul', { class: 'problems' }, ...o.warnings.map((w) => h('li', {}, w))) : null,
    h('h2', {}, 'Replicas'),
    replicasTable(o),
    h(
      'p',
      { class: 'hint' },
      "Every beat run writes a heartbeat to Redis; one that stops cleanly leaves this list at once, one that dies within its lock.ttl. Who leads is the lock's to say.",
    ),
  );
}
