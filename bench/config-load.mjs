// Benchmark (issue 19): `beat check` on the same config of N mixed entries written as JSON, as YAML
// (block style, as people write it) and as YAML whose entries each merge a block of defaults
// (`<<: *defaults`), each in a fresh process: wall and CPU time, peak RSS.
//   npm run build && node bench/config-load.mjs [N[,N…]=100000]
//   node bench/config-load.mjs 1000,10000,100000 --against OTHER/dist [--rounds 2]
//     # the YAML alone, this build and another one (a change, before and after) alternately; medians
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { mixedConfig } from './lib/entries.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { against: { type: 'string' }, rounds: { type: 'string', default: '2' } },
});
const sizes = (positionals[0] ?? '100000').split(',').map(Number);
const rounds = Number(values.rounds);
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tsbeat-config-load-'));

/** The three files of `n` entries. */
function writeConfigs(n) {
  const raw = mixedConfig(n);
  const files = { json: join(dir, `beat-${n}.json`), yaml: join(dir, `beat-${n}.yaml`), merged: join(dir, `merged-${n}.yaml`) };
  writeFileSync(files.json, JSON.stringify(raw, null, 2));
  const yamlText = stringify(raw);
  writeFileSync(files.yaml, yamlText);
  // The entries' own keys win over the defaults, so this is the same schedule with one more key each.
  const defaults = 'x-defaults: &defaults\n  enabled: true\n  catchUp: once\n';
  writeFileSync(files.merged, defaults + yamlText.replace(/^( {2}entry-\d+:\n)/gm, '$1    <<: *defaults\n'));
  return files;
}

/** Runs `beat check` under GNU time: wall and CPU (user + system) seconds, peak RSS in MB. */
function measure(path, build = cli) {
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '%e %U %S %M', process.execPath, '--max-semi-space-size=8', build, 'check', '--config', path],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    },
  );
  if (r.status !== 0) throw new Error(`beat check ${path} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  const [seconds, user, system, kb] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { seconds, cpuSeconds: Math.round((user + system) * 100) / 100, peakRssMB: Math.round(kb / 1024) };
}

const median = (rs, key) => {
  const xs = rs.map((r) => r[key]).sort((a, b) => a - b);
  return xs.length % 2 === 1 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
};
const row = (rs) =>
  `${median(rs, 'seconds').toFixed(2)} s (CPU ${median(rs, 'cpuSeconds').toFixed(2)} s), ${Math.round(median(rs, 'peakRssMB'))} MB`;

try {
  if (values.against !== undefined) {
    const other = join(resolve(values.against), 'cli.js');
    console.log(`| \`beat check\`, YAML | this build | ${values.against} |\n|---|---|---|`);
    for (const n of sizes) {
      const files = writeConfigs(n);
      const runs = { self: [], other: [] };
      for (let round = 0; round < rounds; round += 1) {
        runs.self.push(measure(files.yaml));
        runs.other.push(measure(files.yaml, other));
      }
      console.error(JSON.stringify({ entries: n, ...runs }));
      console.log(`| ${n.toLocaleString('en')} entries | ${row(runs.self)} | ${row(runs.other)} |`);
    }
  } else {
    for (const n of sizes) {
      const files = writeConfigs(n);
      const json = measure(files.json);
      const yaml = measure(files.yaml);
      const merged = measure(files.merged);
      console.log(JSON.stringify({ entries: n, json, yaml, merged }));
      const one = (r) => `${r.seconds} s (CPU ${r.cpuSeconds} s), ${r.peakRssMB} MB`;
      console.log(
        `| ${n.toLocaleString('en')} entries | JSON ${one(json)} | YAML ${one(yaml)} | YAML with merge keys ${one(merged)} | YAML/JSON: ${(yaml.seconds / json.seconds).toFixed(2)}x time, ${(yaml.cpuSeconds / json.cpuSeconds).toFixed(2)}x CPU, ${(yaml.peakRssMB / json.peakRssMB).toFixed(2)}x memory |`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
