/**
 * The load a schedule makes, on the command line (`beat check --load`, `beat plan`): the
 * `--horizon` option, and the load of one config or of both sides of a plan as people read it (its
 * totals and busiest minute and second, then an hour a line with the busiest minute of each).
 * Every minute is in `--json`.
 */
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { LOAD_HORIZON_RANGE, loadHorizonOf } from '../config/duration.js';
import type { LoadReport } from '../control/entries-load.js';
import { renderTable } from './table.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

export const horizonOption = {
  horizon: {
    type: 'string',
    value: 'DURATION',
    help: `the window whose runs are counted, from now: "24h" (the default), "7d" (the longest)`,
  },
} as const;

/** `--horizon` in ms (the default when absent); exit 2 naming the range when it is not a duration within it. */
export function horizonMs(command: string, text: string | undefined): number {
  if (text === undefined) return DEFAULTS.loadHorizonMs;
  const ms = loadHorizonOf(text);
  if (ms === undefined)
    throw new BeatError(
      ErrorCode.Usage,
      `beat ${command}: --horizon ${shown(text)}: give a duration ${LOAD_HORIZON_RANGE}, such as "24h" or "7d"`,
    );
  return ms;
}

/** The horizon as written: "24h", "7d", "90m". */
export function horizonText(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 86_400_000) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${Math.round(ms / MINUTE_MS)}m`;
}

const count = (n: number): string => n.toLocaleString('en-US');
/** "2026-11-26T00:00Z" of a minute, "2026-11-26T00:00:00Z" of a second. */
const minuteText = (iso: string): string => `${iso.slice(0, 16)}Z`;
const secondText = (iso: string): string => `${iso.slice(0, 19)}Z`;

/** One load, or a plan's two side by side (`now`, `after`): the totals, the peaks, then a clock hour a line. */
export function renderLoads(title: string, loads: readonly { readonly label: string; readonly load: LoadReport }[]): string {
  const first = loads[0]?.load;
  if (first === undefined) return title;
  const lines = [`${title}: runs starting from ${minuteText(first.from)} until ${minuteText(first.to)} (UTC)`];
  const summary = loads.map(({ label, load }) => [
    label,
    count(load.total),
    `${count(load.peakMinute.runs)} at ${minuteText(load.peakMinute.at)}`,
    `${count(load.peakSecond.runs)} at ${secondText(load.peakSecond.at)}`,
  ]);
  lines.push(renderTable(['', 'RUNS', 'BUSIEST MINUTE', 'BUSIEST SECOND'], summary));
  for (const { label, load } of loads)
    if (load.capped > 0)
      lines.push(
        `${label}: ${count(load.capped)} entr${load.capped === 1 ? 'y fires' : 'ies fire'} too often to count all ${load.capped === 1 ? 'its' : 'their'} runs: the figures are a floor`,
      );
  const sides = loads.length === 1 ? ['RUNS, BUSIEST MINUTE'] : loads.map(({ label }) => `${label.toUpperCase()}: RUNS, BUSIEST MINUTE`);
  lines.push(renderTable(['HOUR (UTC)', ...sides], hourRows(loads)));
  return lines.join('\n');
}

/** A clock hour a row (those with runs on some side), each side's runs and busiest minute in it. */
function hourRows(loads: readonly { readonly load: LoadReport }[]): string[][] {
  const startMs = Date.parse(loads[0]!.load.from);
  const minutes = loads.reduce((most, { load }) => Math.max(most, load.perMinute.length), 0);
  const firstHourMs = Math.floor(startMs / HOUR_MS) * HOUR_MS;
  const rows: string[][] = [];
  for (let hourMs = firstHourMs; hourMs < startMs + minutes * MINUTE_MS; hourMs += HOUR_MS) {
    const from = Math.max(0, (hourMs - startMs) / MINUTE_MS);
    const to = (hourMs + HOUR_MS - startMs) / MINUTE_MS;
    const cells = loads.map(({ load }) => {
      let runs = 0;
      let busiest = -1;
      for (let m = from; m < Math.min(to, load.perMinute.length); m += 1) {
        const n = load.perMinute[m]!;
        runs += n;
        if (n > 0 && (busiest < 0 || n > load.perMinute[busiest]!)) busiest = m;
      }
      return runs === 0
        ? '0'
        : `${count(runs)}, ${count(load.perMinute[busiest]!)} at ${new Date(startMs + busiest * MINUTE_MS).toISOString().slice(11, 16)}`;
    });
    if (cells.some((c) => c !== '0')) rows.push([minuteText(new Date(hourMs).toISOString()), ...cells]);
  }
  return rows;
}
