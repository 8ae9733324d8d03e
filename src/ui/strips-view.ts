/** The past day (or hour) of entries as strips of coloured cells, fetched for the entries on screen only. */
import { get } from './api.js';
import { h } from './dom.js';
import type { SlotKind, StripCellWire, StripsWire } from '../dashboard/wire.js';

const KINDS: readonly SlotKind[] = ['succeeded', 'failed', 'running', 'unconsumed', 'unknown', 'skipped', 'missed', 'paused'];

export function fetchStrips(names: readonly string[], span: 'day' | 'hour'): Promise<StripsWire> {
  const p = new URLSearchParams({ span });
  for (const name of names) p.append('name', name);
  return get<StripsWire>(`/ui/api/strips?${p.toString()}`);
}

const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

function cellTitle(cell: StripCellWire | null, fromMs: number, toMs: number): string {
  const when = `${hhmm(fromMs)}–${hhmm(toMs)} UTC`;
  if (cell === null) return `${when}: nothing recorded`;
  return `${when}: ${KINDS.filter((k) => (cell.counts[k] ?? 0) > 0)
    .map((k) => `${cell.counts[k]} ${k}`)
    .join(', ')}`;
}

/** One entry's strip: a cell per bucket, oldest on the left. */
export function strip(s: StripsWire, name: string, label: string): HTMLElement {
  const cells = s.strips[name] ?? [];
  return h(
    'div',
    { class: 'strip', role: 'img', 'data-entry': name, 'aria-label': label },
    ...cells.map((cell, i) => {
      const from = s.startMs + i * s.bucketMs;
      return h('span', {
        class: cell === null ? 'cell' : `cell k-${cell.kind}`,
        'data-start': String(from),
        'data-kind': cell?.kind,
        title: cellTitle(cell, from, from + s.bucketMs),
      });
    }),
  );
}

export function legend(): HTMLElement {
  return h('p', { class: 'legend' }, ...KINDS.map((k) => h('span', {}, h('span', { class: `cell k-${k}` }), ` ${k} `)));
}
