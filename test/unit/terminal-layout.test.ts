/** The terminal's width (io.ts terminalColumns) and the layout for it (table.ts): issue 68. */
import { describe, expect, it } from 'vitest';
import { terminalColumns } from '../../src/commands/io.js';
import type { Io } from '../../src/commands/io.js';
import { renderTable, wrapLines } from '../../src/commands/table.js';

const ioWith = (env: NodeJS.ProcessEnv, columns?: number): Io => ({
  out: () => undefined,
  err: () => undefined,
  env,
  cwd: '/',
  now: () => 0,
  ...(columns === undefined ? {} : { columns }),
});

describe('terminalColumns', () => {
  it('is $COLUMNS, else the terminal width, else 100 (a pipe or a file)', () => {
    expect(terminalColumns(ioWith({ COLUMNS: '132' }, 80))).toBe(132);
    expect(terminalColumns(ioWith({}, 80))).toBe(80);
    expect(terminalColumns(ioWith({}))).toBe(100);
  });

  it('takes no $COLUMNS that is not a width: empty, zero, negative, text', () => {
    for (const COLUMNS of ['', '0', '-80', 'wide', '80px', '1e3']) expect(terminalColumns(ioWith({ COLUMNS }, 90)), COLUMNS).toBe(90);
  });
});

describe('renderTable', () => {
  it('is as wide as its cells without a width (--wide)', () => {
    expect(renderTable(['A', 'B'], [['x'.repeat(50), 'y'.repeat(50)]]).split('\n')[1]).toBe(`${'x'.repeat(50)}  ${'y'.repeat(50)}`);
  });

  it('cuts a column the command did not list when those it listed are at 8: a table of n columns fits 10n − 2', () => {
    const lines = renderTable(['NAME', 'WHEN', 'TASK'], [['n'.repeat(30), 't'.repeat(30), 'k'.repeat(30)]], 28, [
      { column: 0, keep: 20 },
    ]).split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(28);
    expect(lines[1]).toBe(`${'n'.repeat(7)}…  ${'t'.repeat(7)}…  ${'k'.repeat(7)}…`);
  });
});

describe('wrapLines', () => {
  it('wraps between words, the follow-on lines indented two more than the first', () => {
    const text = 'UNCONSUMED: no worker consumes queue reports (since 2026-11-26T09:00:00Z): start a worker with -Q reports';
    expect(wrapLines(text, 40)).toBe(
      ['UNCONSUMED: no worker consumes queue', '  reports (since 2026-11-26T09:00:00Z):', '  start a worker with -Q reports'].join('\n'),
    );
    expect(wrapLines('  name: a reason that goes on and on', 20)).toBe(['  name: a reason', '    that goes on and', '    on'].join('\n'));
  });

  it('breaks at the fields of a line (two spaces) with no space left at either end of a line', () => {
    expect(wrapLines('name-of-an-entry  tasks.the_task  [Europe/Berlin]', 24, 4)).toBe(
      ['name-of-an-entry', '    tasks.the_task', '    [Europe/Berlin]'].join('\n'),
    );
  });

  it('breaks a word longer than the width, and leaves short lines as they are', () => {
    const lines = wrapLines(`queue ${'q'.repeat(50)} waits`, 20).split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(20);
    expect(lines.join('').replace(/\s/g, '')).toBe(`queue${'q'.repeat(50)}waits`);
    expect(wrapLines('short\n\n  also short', 20)).toBe('short\n\n  also short');
  });

  it('escapes control characters before measuring, so an escape cannot widen a line past the width', () => {
    const lines = wrapLines(`note: ${'\u001b[31m'.repeat(6)} red`, 24).split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(24);
    expect(lines.join('')).not.toContain('\u001b');
  });
});
