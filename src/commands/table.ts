/** Plain-text tables for terminal output: left-aligned columns, two spaces apart. */
import { maxOf } from '../base/chunks.js';

export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => maxOf([h.length, ...rows.map((r) => (r[i] ?? '').length)]));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
