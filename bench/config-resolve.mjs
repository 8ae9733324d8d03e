// Benchmark (issue 2): validate and resolve a config of N mixed entries, then compute each entry's
// next fire. Goal on the 2-core CI machine: under 2 s and under 300 MB for 100,000 entries.
//   npm run build && node bench/config-resolve.mjs [N]
import { parseConfig } from '../dist/config/load.js';
import { nextFires } from '../dist/core/schedule.js';
import { mixedConfig } from './lib/entries.mjs';

const n = Number(process.argv[2] ?? 100_000);
const raw = mixedConfig(n);

let peakRss = process.memoryUsage().rss;
const sample = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 5);
const now = Date.parse('2026-11-21T06:00:00Z');

const t0 = performance.now();
const config = parseConfig(raw, 'bench');
const t1 = performance.now();
let fires = 0;
for (const e of config.entries) fires += nextFires(e.schedule, { zone: e.timezone, afterMs: now }, 1).length;
const t2 = performance.now();
clearInterval(sample);
peakRss = Math.max(peakRss, process.memoryUsage().rss);

const result = {
  entries: config.entries.length,
  withNextFire: fires,
  validateAndResolveMs: Math.round(t1 - t0),
  nextFireMs: Math.round(t2 - t1),
  totalMs: Math.round(t2 - t0),
  peakRssMB: Math.round(peakRss / 1e6),
};
console.log(JSON.stringify(result));
console.log(
  `| ${n.toLocaleString('en')} entries | validate+resolve ${result.validateAndResolveMs} ms | next fire ${result.nextFireMs} ms | total ${result.totalMs} ms | peak RSS ${result.peakRssMB} MB |`,
);
