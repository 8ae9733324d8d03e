// The entries-io workload (issue 31): N runtime entries through the command line and the store's
// listing, each step in a fresh process (or, for the listing, the store the API pages with):
//   import   `beat entries import entries.ndjson` (JSON Lines: checked, then written 10,000 a write)
//   list     every page of 1,000 in name order (RedisEntryStore.page, what GET /api/entries?after= does)
//   export   `beat entries export --format ndjson`, then `--format yaml` (a page at a time)
//   delete   `beat entries import empty.ndjson --prune` (the store becomes the empty file)
// Wall and CPU seconds, peak RSS (GNU time), entries per second of wall time.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { tempDir } from './procs.mjs';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const DEPLOYMENT = 'bench-entries-io';
export const ENTRIES_IO_BEGIN = '<!-- entries-io: written by npm run bench -- --only entries-io -->';
export const ENTRIES_IO_END = '<!-- /entries-io -->';

/** Entry names zero-padded: name order is the order written, so an export must equal the input byte for byte. */
const nameOf = (i) => `entry-${String(i).padStart(7, '0')}`;

function writeInput(path, n) {
  const fd = openSync(path, 'w');
  let lines = [];
  for (let i = 0; i < n; i += 1) {
    lines.push(JSON.stringify({ name: nameOf(i), entry: { args: [i], schedule: 60 + (i % 600), task: 'bench.tick' } }));
    if (lines.length === 10_000) {
      writeSync(fd, `${lines.join('\n')}\n`);
      lines = [];
    }
  }
  if (lines.length > 0) writeSync(fd, `${lines.join('\n')}\n`);
  closeSync(fd);
}

/** A beat command under GNU time, with the bin's own node flags. */
function measure(nodeFlags, args, config) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, ...nodeFlags, CLI, ...args, '--config', config], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const [wall, user, sys, kb] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  if (r.status !== 0) throw new Error(`beat ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 500)}`);
  return { wall, cpu: user + sys, rssMb: Math.round(kb / 1024), said: `${r.stdout}${r.stderr}`.split('\n')[0] };
}

const sha1 = (path) => createHash('sha1').update(readFileSync(path)).digest('hex');

/**
 * Runs the workload at `n` entries on `broker` (its database is flushed before and after) and
 * returns the Markdown section.
 */
export async function entriesIo({ broker, n, nodeFlags, log }) {
  const dir = tempDir('bench-entries-io-');
  const redis = new Redis(broker);
  try {
    await redis.flushdb();
    const config = join(dir, 'beat.yaml');
    writeFileSync(
      config,
      `name: ${DEPLOYMENT}\nbroker: { url: "${broker}" }\nentryLimits: { maxEntries: 10000000, maxStoreBytes: 68719476736 }\n`,
    );
    const input = join(dir, 'entries.ndjson');
    writeInput(input, n);
    writeFileSync(join(dir, 'empty.ndjson'), '');
    const rows = [];
    const row = (step, m, extra = '') => {
      const line = `| ${step} | ${m.wall.toFixed(1)} s | ${m.cpu.toFixed(1)} s | ${m.rssMb === undefined ? '—' : `${m.rssMb} MB`} | ${Math.round(n / m.wall).toLocaleString('en')} | ${extra} |`;
      rows.push(line);
      log(line);
    };
    log(`entries-io: ${n.toLocaleString('en')} entries`);
    const imported = measure(nodeFlags, ['entries', 'import', input], config);
    if (!imported.said.startsWith(`${n} created`)) throw new Error(`import said: ${imported.said}`);
    row('import (JSON Lines)', imported, imported.said.replace(/; deployment [^,]+,/, ','));

    // The listing, in this process: the store the API pages with, 1,000 a page (its maximum).
    const { RedisEntryStore } = await import('../../dist/redis/entry-store.js');
    const { schedulerKeys } = await import('../../dist/redis/keys.js');
    const store = new RedisEntryStore(redis, schedulerKeys('tsbeat', DEPLOYMENT));
    const usage = process.cpuUsage();
    const started = performance.now();
    let listed = 0;
    let pages = 0;
    let after;
    for (;;) {
      const { entries, more } = await store.page(after, 1000);
      pages += 1;
      for (const e of entries) if (e.name !== nameOf(listed++)) throw new Error(`page ${pages}: ${e.name} out of order`);
      if (!more) break;
      after = entries[entries.length - 1].name;
    }
    const cpu = process.cpuUsage(usage);
    if (listed !== n) throw new Error(`listed ${listed} of ${n}`);
    row(
      'list (pages of 1,000)',
      { wall: (performance.now() - started) / 1000, cpu: (cpu.user + cpu.system) / 1e6, rssMb: undefined },
      `${pages} pages, in name order`,
    );

    const ndjson = join(dir, 'export.ndjson');
    const exported = measure(nodeFlags, ['entries', 'export', '--output', ndjson], config);
    const same = sha1(ndjson) === sha1(input);
    row('export (JSON Lines)', exported, same ? 'byte for byte the imported file' : '**differs from the imported file**');
    const yaml = join(dir, 'export.yaml');
    row('export (YAML)', measure(nodeFlags, ['entries', 'export', '--output', yaml], config));
    rmSync(yaml);

    const deleted = measure(nodeFlags, ['entries', 'import', join(dir, 'empty.ndjson'), '--prune'], config);
    const left = await redis.hlen(`tsbeat:{${DEPLOYMENT}}:entries`);
    row('delete (import of nothing, --prune)', deleted, `${deleted.said.replace(/; deployment [^,]+,/, ',')}; ${left} left`);
    return [
      ENTRIES_IO_BEGIN,
      `${n.toLocaleString('en')} runtime entries, ${new Date().toISOString()}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} at the end. `,
      'Wall and CPU seconds and peak RSS of each `beat` process (GNU time); the listing runs in the bench process. ',
      'Entries per second: of wall time.',
      '',
      '| step | wall | CPU | peak RSS | entries/s | what it said |',
      '|---|---|---|---|---|---|',
      ...rows,
      ENTRIES_IO_END,
    ].join('\n');
  } finally {
    await redis.flushdb().catch(() => undefined);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** RESULTS.md with the section replaced (or added at the end). */
export function withEntriesIoSection(text, generated) {
  const begin = text.indexOf(ENTRIES_IO_BEGIN);
  const end = text.indexOf(ENTRIES_IO_END);
  if (begin >= 0 && end > begin) return text.slice(0, begin) + generated + text.slice(end + ENTRIES_IO_END.length);
  return `${text.trimEnd()}\n\n## A million runtime entries through import, list, export and delete (issue 31)\n\n${generated}\n`;
}

export const ENTRIES_IMPORT_BEGIN = '<!-- entries-import: written by npm run bench -- --only entries-import -->';
export const ENTRIES_IMPORT_END = '<!-- /entries-import -->';

/** The CPU seconds a redis-server has spent so far (INFO cpu: user and system, its threads included). */
async function redisCpuSeconds(client) {
  const info = await client.info('cpu');
  const field = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/**
 * The entries-import workload (issue 33's "import of 1,000,000 entries ≥ 50,000 entries/s"): for
 * each size, `beat entries import entries.ndjson` of N new entries into a private redis-server of
 * its own (so that its CPU is the import's alone): wall, entries per second, the CLI's CPU and
 * Redis's, each per entry, peak RSS, and the load average around it. Returns the Markdown section.
 */
export async function entriesImport({ sizes, nodeFlags, log }) {
  const { privateRedis } = await import('./million.mjs');
  const dir = tempDir('bench-entries-import-');
  const rows = [];
  try {
    const config = join(dir, 'beat.yaml');
    for (const n of sizes) {
      const redis = await privateRedis();
      try {
        writeFileSync(
          config,
          `name: ${DEPLOYMENT}\nbroker: { url: "${redis.url}" }\nentryLimits: { maxEntries: 10000000, maxStoreBytes: 68719476736 }\n`,
        );
        const input = join(dir, `entries-${n}.ndjson`);
        writeInput(input, n);
        const loadBefore = loadAverage();
        const redisBefore = await redisCpuSeconds(redis.client);
        const m = measure(nodeFlags, ['entries', 'import', input], config);
        const redisCpu = (await redisCpuSeconds(redis.client)) - redisBefore;
        if (!m.said.startsWith(`${n} created`)) throw new Error(`import said: ${m.said}`);
        const stored = await redis.client.hlen(`tsbeat:{${DEPLOYMENT}}:entries`);
        if (stored !== n) throw new Error(`${stored} entries stored of ${n}`);
        const us = (seconds) => `${seconds.toFixed(1)} s (${((seconds * 1e6) / n).toFixed(1)} µs)`;
        const line = `| ${n.toLocaleString('en')} | ${m.wall.toFixed(1)} s | ${Math.round(n / m.wall).toLocaleString('en')} | ${us(m.cpu)} | ${us(redisCpu)} | ${m.rssMb} MB | ${loadBefore} → ${loadAverage()} |`;
        rows.push(line);
        log(line);
      } finally {
        await redis.stop();
        rmSync(join(dir, `entries-${n}.ndjson`), { force: true });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return [
    ENTRIES_IMPORT_BEGIN,
    `${new Date().toISOString()}: \`beat entries import\` of N new entries as JSON Lines, each size on a private redis-server of its own. `,
    "Wall and the CLI's CPU and peak RSS: GNU time; Redis's CPU: its INFO cpu before and after; per entry in brackets. ",
    'Load average (1, 5, 15 min) before → after: the machine is shared, compare the CPU columns across runs.',
    '',
    '| entries | wall | entries/s | CLI CPU (per entry) | Redis CPU (per entry) | peak RSS | load average |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    ENTRIES_IMPORT_END,
  ].join('\n');
}

/** RESULTS.md with the entries-import section replaced (or added at the end, under its heading). */
export function withEntriesImportSection(text, generated) {
  const begin = text.indexOf(ENTRIES_IMPORT_BEGIN);
  const end = text.indexOf(ENTRIES_IMPORT_END);
  if (begin >= 0 && end > begin) return text.slice(0, begin) + generated + text.slice(end + ENTRIES_IMPORT_END.length);
  return `${text.trimEnd()}\n\n## \`beat entries import\` alone (issue 33)\n\n${generated}\n`;
}
