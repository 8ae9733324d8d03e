import { maxOf } from '../base/chunks.js';
import { terminalField } from '../base/terminal-text.js';

/**
 * Plain-text tables for terminal output: left-aligned columns, two spaces apart. Every cell has its
 * control characters escaped: a line break or an ESC in a name cannot fake a row or recolour one.
 */
export function renderTable(header: readonly string[], rawRows: readonly (readonly string[])[]): string {
  const rows = rawRows.map((r) => r.map(terminalField));
  const widths = header.map((h, i) => maxOf([h.length, ...rows.map((r) => (r[i] ?? '').length)]));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
