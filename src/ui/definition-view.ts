/** An entry's definition as its author wrote it (the resolved view one click away), and its next fires as a compact list per day. */
import { get, entryPath } from './api.js';
import { h, jsonBlock } from './dom.js';
import type { DetailWire, FireWire } from '../dashboard/wire.js';

export function definitionSection(detail: DetailWire): HTMLElement[] {
  const resolved = jsonBlock(detail.definition);
  if (detail.written === null) {
    return [
      h('h2', {}, 'Definition'),
      h('p', { class: 'hint' }, `As tsbeat resolved it from its source (${detail.row.origin}).`),
      resolved,
    ];
  }
  return [
    h('h2', {}, 'Definition'),
    h('p', { class: 'hint written-source' }, `As written in ${detail.written.source}`),
    jsonBlock(detail.written.definition),
    h('details', { class: 'resolved' }, h('summary', {}, 'Resolved view (defaults applied, as tsbeat runs it)'), resolved),
  ];
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** "Sun 2027-03-21" from the date part of an ISO instant with offset (the entry's own calendar day). */
function dayLabel(iso: string): string {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  return `${WEEKDAYS[new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1)).getUTCDay()]} ${iso.slice(0, 10)}`;
}

/** "07:00", or "07:00:30" when the seconds are not zero: a wall time of the entry's zone. */
const wallTime = (iso: string): string => (iso.slice(17, 19) === '00' ? iso.slice(11, 16) : iso.slice(11, 19));

function compactFires(fires: readonly FireWire[], zone: string): HTMLElement {
  const days = new Map<string, FireWire[]>();
  for (const f of fires) {
    const key = f.at.slice(0, 10);
    const list = days.get(key) ?? [];
    list.push(f);
    days.set(key, list);
  }
  return h(
    'ul',
    { class: 'fires-compact', 'aria-label': `Next fires in ${zone}` },
    ...[...days.values()].map((list) =>
      h(
        'li',
        { 'data-day': list[0]!.at.slice(0, 10) },
        h('span', { class: 'day' }, dayLabel(list[0]!.at)),
        ' ',
        ...list.flatMap((f, i) => [
          i > 0 ? ', ' : '',
          h('time', { datetime: f.at, title: f.at, class: f.offsetChange ? 'dst' : undefined }, wallTime(f.at)),
          f.offsetChange ? h('span', { class: 'dst', 'data-dst': f.offsetChange }, ` (DST: ${f.offsetChange})`) : null,
        ]),
      ),
    ),
  );
}

function fullFires(fires: readonly FireWire[]): HTMLElement {
  return h(
    'ol',
    { class: 'fires' },
    ...fires.map((f) =>
      h(
        'li',
        {},
        h('time', { datetime: f.at }, f.at),
        f.offsetChange ? h('span', { class: 'dst' }, ` DST change: ${f.offsetChange}`) : null,
      ),
    ),
  );
}

/** The next fires in the entry's zone, a line per day; every instant (and more of them) on demand. */
export function firesSection(detail: DetailWire): HTMLElement[] {
  const { fires, row } = detail;
  if (fires.length === 0) return [h('h2', {}, 'Next runs'), h('p', {}, 'None coming.')];
  const full = h('div', {}, fullFires(fires));
  const more = h(
    'button',
    {
      type: 'button',
      onclick: () => {
        void get<DetailWire>(`${entryPath(row.name)}?fires=200`).then((d) => {
          full.replaceChildren(fullFires(d.fires));
          more.remove();
        });
      },
    },
    'Show the next 200',
  );
  return [
    h('h2', {}, `Next ${fires.length} runs`, h('span', { class: 'hint' }, ` (${row.view?.timezone ?? 'UTC'})`)),
    compactFires(fires, row.view?.timezone ?? 'UTC'),
    h('details', { class: 'fires-all' }, h('summary', {}, 'Full list, as instants'), full, more),
  ];
}
