/** The timeline of the coming hour or day (runs per minute) and the deployment (leader, lock, connections, version). */
import { get } from './api.js';
import { fill, h, relative } from './dom.js';
import type { OverviewWire, TimelineWire } from '../dashboard/wire.js';

export async function timelineView(root: HTMLElement, day: boolean): Promise<void> {
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
  fill(
    root,
    h('h1', {}, 'Timeline'),
    h(
      'div',
      { class: 'filters' },
      h('a', { href: '#/timeline', 'aria-current': day ? undefined : 'page' }, 'Next hour'),
      h('a', { href: '#/timeline/day', 'aria-current': day ? 'page' : undefined }, 'Next day'),
    ),
    h('p', {}, `${total} runs from ${label(0)} UTC, per minute; the highest bar is ${max}.`),
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

export function deploymentView(root: HTMLElement, o: OverviewWire): void {
  const rows: [string, string][] = [
    ['Deployment', o.deployment],
    ['Leader', o.leader === null ? 'NONE: no beat run instance holds the lock' : `${o.leader.instance} since ${o.leader.since}`],
    ['Lock expires', o.lockExpiresInMs === null ? '—' : relative(o.nowMs + o.lockExpiresInMs, o.nowMs)],
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
    h('p', { class: 'hint' }, 'Standbys are not registered in Redis: each replica serves this page about itself and the leader.'),
  );
}
