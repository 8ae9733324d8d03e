// Micro-benchmark of the cron engine: parse, first next fire of a fresh spec, and the scheduler's
// steady state (next fire after the previous one, count = 1), on ordinary and on DST days.
//   npx tsc -p tsconfig.build.json && node bench/cron-next.mjs [N]
import { nextCronFires } from '../dist/core/cron/next-fires.js';
import { parseCeleryCrontab } from '../dist/core/cron/parse-celery.js';
import { parseCronLine } from '../dist/core/cron/parse-line.js';

const n = Number(process.argv[2] ?? 100_000);
const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham'];
const lines = ['*/5 * * * *', '30 2 * * *', '0 9 * * 1-5', '15 10 * * 1#2', '0 0 L * *', '@hourly', '0 */2 * * *', '*/10 1-4 * * *'];

function source(i) {
  switch (i % 4) {
    case 0:
      return lines[i % lines.length];
    case 1:
      return `${i % 60} ${i % 24} * * *`;
    case 2:
      return { minute: i % 60, hour: `${i % 12}-${12 + (i % 12)}/3`, dayOfWeek: 'mon-fri' };
    default:
      return `${i % 60} ${i % 24} ${1 + (i % 28)} * ${i % 7}`;
  }
}
const parse = (src) => (typeof src === 'string' ? parseCronLine(src) : parseCeleryCrontab(src));
const usPer = (ms, count) => ((ms * 1000) / count).toFixed(2);
const now = Date.parse('2026-11-21T06:00:00Z');

// Warm the zone offset caches and the JIT, as a running scheduler would be.
for (let i = 0; i < 20_000; i++) nextCronFires(parse(source(i)), zones[i % zones.length], now + i * 1000, 1);

const sources = Array.from({ length: n }, (_, i) => source(i));
let t0 = performance.now();
const specs = sources.map(parse);
const parseMs = performance.now() - t0;

t0 = performance.now();
let sink = 0;
for (let i = 0; i < n; i++) sink += nextCronFires(specs[i], zones[i % zones.length], now, 1)[0];
const firstMs = performance.now() - t0;

t0 = performance.now();
for (let i = 0; i < n; i++) sink += nextCronFires(specs[i], zones[i % zones.length], now, 1)[0];
const warmMs = performance.now() - t0;

/**
 * The scheduler's view of a stretch of time: every entry fires, and each fire asks for the one
 * after it (count = 1), until `days` have passed. Returns µs per call and the number of calls.
 */
function replay(from, days, entries = 2_000) {
  const until = from + days * 86_400_000;
  let calls = 0;
  const start = performance.now();
  for (let i = 0; i < entries; i++) {
    for (let t = from; t < until; calls++) t = nextCronFires(specs[i], zones[i % zones.length], t, 1)[0];
  }
  return { usPerCall: usPer(performance.now() - start, calls), calls };
}

const result = {
  specs: n,
  parseUsPerSpec: usPer(parseMs, n),
  firstNextUsPerSpec: usPer(firstMs, n),
  warmNextUsPerSpec: usPer(warmMs, n),
  replayOrdinaryWeek: replay(now, 7),
  // 2026-03-08 New York, 2026-03-29 Berlin, 2026-04-05 Lord Howe and Chatham: transition days.
  replayMarchToAprilTransitions: replay(Date.parse('2026-03-06T00:00:00Z'), 32),
  count10UsPerCall: usPer(
    (() => {
      const s = performance.now();
      for (let i = 0; i < 10_000; i++) sink += nextCronFires(specs[i], zones[i % zones.length], now, 10).length;
      return performance.now() - s;
    })(),
    10_000,
  ),
};
if (Number.isNaN(sink)) throw new Error('unexpected NaN');
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
