// Benchmark (issue 31): `beat entries import` of N runtime entries written as JSON, then `beat
// entries export` of them, each in a fresh process: wall and CPU time, peak RSS. The store is
// emptied (its deployment's keys deleted) before and after. Goal: 1,000,000 entries import and
// export without a stack overflow, within memory (every list goes through src/base/chunks.ts).
//   npm run build && node bench/entries-io.mjs [N] [REDIS_URL]      (default 1000000, redis://127.0.0.1:6379/7)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const n = Number(process.argv[2] ?? 1_000_000);
const url = process.argv[3] ?? 'redis://127.0.0.1:6379/7';
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tsbeat-entries-io-'));
const deployment = 'bench-entries-io';
const config = join(dir, 'beat.yaml');
writeFileSync(config, `name: ${deployment}\nbroker: { url: "${url}" }\n`);
const input = join(dir, 'entries.json');
const entries = {};
for (let i = 0; i < n; i += 1) entries[`entry-${i}`] = { task: 'bench.tick', schedule: 60 + (i % 600), args: [i] };
writeFileSync(input, JSON.stringify(entries));

const redis = new Redis(url);
const clear = async () => {
  const keys = await redis.keys(`tsbeat:{${deployment}}:*`);
  for (let i = 0; i < keys.length; i += 1000) await redis.del(keys.slice(i, i + 1000));
};

/** Runs a beat command under GNU time: wall and CPU (user + system) seconds, peak RSS in MB, and its exit. */
function measure(args) {
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '%e %U %S %M', process.execPath, '--max-semi-space-size=8', cli, ...args, '--config', config],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    },
  );
  const [wall, user, sys, kb] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  return {
    status: r.status,
    wall,
    cpu: user + sys,
    rssMb: Math.round(kb / 1024),
    said: r.stderr.split('\n').slice(0, 2).join(' ') + r.stdout.slice(0, 200),
  };
}

try {
  await clear();
  const imported = measure(['entries', 'import', input]);
  const exported = measure(['entries', 'export', '--output', join(dir, 'export.yaml')]);
  console.log(`${n} entries (${url})`);
  for (const [what, m] of [
    ['import', imported],
    ['export', exported],
  ])
    console.log(
      `  ${what}: exit ${m.status}, ${m.wall} s wall, ${m.cpu.toFixed(2)} s CPU, ${m.rssMb} MB peak RSS  ${m.status === 0 ? '' : m.said}`,
    );
} finally {
  await clear();
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
