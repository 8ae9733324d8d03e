// Benchmark (issue 71): the load a schedule makes, counted for N entries (default 100,000) over the
// next day and the next week, as `beat check` and `beat plan` count it (control/entries-load.ts).
// Two configs: N daily entries at distinct minutes (every run counted), and the mixed config of the
// config benchmarks (intervals of seconds among them: more fires than the count's budget, so it
// stops at the budget and names the entries it capped). Reported: the count's time, as a ratio to
// computing each entry's next fire once in the same run (what `beat check` does anyway).
//   npm run build && node bench/load-100k.mjs [N]
import { parseConfig } from '../dist/config/load.js';
import { entriesLoad } from '../dist/control/entries-load.js';
import { nextFires } from '../dist/core/schedule.js';
import { mixedConfig } from './lib/entries.mjs';

const n = Number(process.argv[2] ?? 100_000);
const now = Date.parse('2026-11-21T06:00:30Z');
const DAY = 86_400_000;

function dailyConfig(count) {
  const beatSchedule = {};
  for (let i = 0; i < count; i += 1)
    beatSchedule[`daily-${i}`] = { task: 'bench.daily', schedule: { cron: `${i % 60} ${Math.floor(i / 60) % 24} * * *` } };
  return { timezone: 'UTC', beatSchedule };
}

async function measure(name, raw) {
  const config = parseConfig(raw, 'bench');
  const inputs = config.entries.map((entry) => ({ entry }));
  let t0 = performance.now();
  for (const e of config.entries) nextFires(e.schedule, { zone: e.timezone, afterMs: now }, 1);
  const nextMs = performance.now() - t0;
  const rows = [];
  for (const [span, horizonMs] of [
    ['day', DAY],
    ['week', 7 * DAY],
  ]) {
    t0 = performance.now();
    const load = await entriesLoad(inputs, now, horizonMs);
    const ms = performance.now() - t0;
    rows.push({
      config: name,
      span,
      ms: Math.round(ms),
      ratio: (ms / nextMs).toFixed(1),
      total: load.total,
      capped: load.capped,
      peakMinute: load.peakMinute.runs,
      peakSecond: load.peakSecond.runs,
    });
  }
  return { nextMs: Math.round(nextMs), rows };
}

const results = [
  await measure(`${n.toLocaleString('en')} daily, distinct minutes`, dailyConfig(n)),
  await measure(`${n.toLocaleString('en')} mixed (bench/lib/entries.mjs)`, mixedConfig(n)),
];
console.log(JSON.stringify(results));
console.log('| config | window | count | ÷ one next fire each | runs counted | entries capped | peak minute | peak second |');
console.log('|---|---|---|---|---|---|---|---|');
for (const { nextMs, rows } of results)
  for (const r of rows)
    console.log(
      `| ${r.config} | ${r.span} | ${(r.ms / 1000).toFixed(2)} s | ${r.ratio}× (${nextMs} ms) | ${r.total.toLocaleString('en')} | ${r.capped.toLocaleString('en')} | ${r.peakMinute.toLocaleString('en')} | ${r.peakSecond.toLocaleString('en')} |`,
    );
