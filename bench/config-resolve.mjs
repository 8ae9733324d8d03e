// Benchmark (issue 2): validate and resolve a config of N mixed entries, then compute each entry's
// next fire. Goal on the 2-core CI machine: under 2 s and under 300 MB for 100,000 entries.
//   npm run build && node bench/config-resolve.mjs [N]
import { parseConfig } from '../dist/config/load.js';
import { nextFires } from '../dist/core/schedule.js';

const n = Number(process.argv[2] ?? 100_000);
const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham'];
const cronLines = ['*/5 * * * *', '30 2 * * *', '0 9 * * 1-5', '15 10 * * 1#2', '0 0 L * *', '@hourly', '0 */2 * * *', '*/10 1-4 * * *'];

function entry(i) {
  const zone = zones[i % zones.length];
  const base = { task: `bench.task_${i % 97}`, args: [i, 'x'], kwargs: { n: i }, timezone: zone };
  switch (i % 8) {
    case 0: return { ...base, schedule: 5 + (i % 300) };
    case 1: return { ...base, schedule: { timedelta: { minutes: 1 + (i % 59) } } };
    case 2: return { ...base, schedule: { crontab: { minute: i % 60, hour: i % 24 } } };
    case 3: return { ...base, schedule: { crontab: { minute: '*/15', day_of_week: 'mon-fri' } } };
    case 4:
    case 5: return { ...base, schedule: { cron: cronLines[i % cronLines.length] } };
    case 6: return { ...base, schedule: { cron: `${i % 60} ${i % 24} * * *` }, options: { queue: 'q', expires: 60 } };
    default: return { ...base, schedule: i % 40 === 7 ? { solar: { event: 'sunrise', lat: 50, lon: 8 } } : { clocked: '2030-01-01T00:00:00Z' } };
  }
}

const beatSchedule = {};
for (let i = 0; i < n; i += 1) beatSchedule[`entry-${i}`] = entry(i);
const raw = { timezone: 'UTC', beatSchedule };

let peakRss = process.memoryUsage().rss;
const sample = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 5);
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
console.log(`| ${n.toLocaleString('en')} entries | validate+resolve ${result.validateAndResolveMs} ms | next fire ${result.nextFireMs} ms | total ${result.totalMs} ms | peak RSS ${result.peakRssMB} MB |`);
