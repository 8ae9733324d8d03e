import { maxOf } from '../base/chunks.js';
import { terminalField, terminalLines } from '../base/terminal-text.js';

/**
 * Text laid out for a terminal's width (io.ts terminalColumns): tables whose long cells are cut with
 * "…", and lines wrapped with a hanging indent. Every cell has its control characters escaped: a
 * line break or an ESC in a name cannot fake a row or recolour one.
 */

/** The least width a column is cut to: first down to `keep` (what is worth keeping of it), then to 8. */
const LEAST_WIDTH = 8;

/** A column that gives way when the table is too wide, cut first down to `keep` characters. */
export interface Shrinkable {
  readonly column: number;
  readonly keep: number;
}

/** A cell cut to `width` characters, the cut marked with "…". */
function clip(cell: string, width: number): string {
  return cell.length <= width ? cell : `${cell.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * Left-aligned columns, two spaces apart, the last not padded. With `columns`, the lines fit it:
 * while too wide, the widest of the `shrinkable` columns (the command's order of what gives way;
 * default every column) still over its `keep` loses a character, then, with all at their `keep`, the
 * widest of them over 8, then the widest of any column over 8; its cells are cut with "…". So a table
 * of n columns fits any width from 10n − 2 up. Without `columns` (--wide) every cell is whole.
 */
export function renderTable(
  header: readonly string[],
  rawRows: readonly (readonly string[])[],
  columns?: number,
  shrinkable?: readonly Shrinkable[],
): string {
  const rows = rawRows.map((r) => r.map(terminalField));
  const widths = header.map((h, i) => maxOf([h.length, ...rows.map((r) => (r[i] ?? '').length)]));
  const total = (): number => widths.reduce((sum, w) => sum + w, 0) + 2 * (widths.length - 1);
  const every = header.map((_, column) => ({ column, keep: LEAST_WIDTH }));
  const givers = shrinkable ?? every;
  const widestOver = (among: readonly Shrinkable[], least: (keep: number) => number): number | undefined => {
    let widest: number | undefined;
    for (const { column, keep } of among) {
      const width = widths[column] ?? 0;
      if (width > least(keep) && (widest === undefined || width > (widths[widest] ?? 0))) widest = column;
    }
    return widest;
  };
  while (columns !== undefined && total() > columns) {
    const widest =
      widestOver(givers, (keep) => Math.max(keep, LEAST_WIDTH)) ??
      widestOver(givers, () => LEAST_WIDTH) ??
      widestOver(every, () => LEAST_WIDTH);
    if (widest === undefined) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => {
        const cut = clip(cell, widths[i] ?? 0);
        return i === cells.length - 1 ? cut : cut.padEnd(widths[i] ?? 0);
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * `text`'s lines, each wrapped at `columns` between words, its follow-on lines indented `hang` more
 * than it (a hanging indent), so that a warning reads as one item; a word longer than the room is
 * broken. Escaped first (terminal-text.ts), so that an escape cannot widen a line afterwards.
 */
export function wrapLines(text: string, columns: number, hang = 2): string {
  return terminalLines(text)
    .split('\n')
    .map((line) => wrapLine(line, columns, hang))
    .join('\n');
}

function wrapLine(line: string, columns: number, hangBy: number): string {
  if (line.length <= columns) return line;
  const indent = /^ */.exec(line)?.[0] ?? '';
  // Never so deep that no word fits: a hanging indent past half the width is cut back to it.
  const hang = ' '.repeat(Math.min(indent.length + hangBy, Math.floor(columns / 2)));
  const out: string[] = [];
  let current = indent;
  let room = columns;
  // Two spaces between fields stay two, but none ends a line or starts a follow-on one.
  for (const word of line.slice(indent.length).split(' ')) {
    if (word === '' && current.trim() === '') continue;
    const gap = current.trim() === '' ? '' : ' ';
    if (current.length + gap.length + word.length <= room) {
      current += gap + word;
      continue;
    }
    if (current.trim() !== '') {
      out.push(current.trimEnd());
      current = hang;
      room = columns;
    }
    let rest = word;
    while (current.length + rest.length > room) {
      const fits = Math.max(1, room - current.length);
      out.push(current + rest.slice(0, fits));
      current = hang;
      rest = rest.slice(fits);
    }
    current += rest;
  }
  if (current.trim() !== '') out.push(current.trimEnd());
  return out.join('\n');
}
