// Benchmark (issue 19): `beat check` on the same config of N mixed entries written as JSON, as YAML
// (block style, as people write it) and as YAML whose entries each merge a block of defaults
// (`<<: *defaults`), each in a fresh process: wall and CPU time, peak RSS. Goal: YAML within 2x of JSON.
//   npm run build && node bench/config-load.mjs [N]
//   node bench/config-load.mjs N --ablation   # the YAML alone, js-yaml's fast read on/off/on/off (BEAT_SPEEDUPS_OFF=yaml)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { mixedConfig } from './lib/entries.mjs';

const n = Number(process.argv[2] ?? 100_000);
const ablation = process.argv.includes('--ablation');
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tsbeat-config-load-'));
const raw = mixedConfig(n);
const files = { json: join(dir, 'beat.json'), yaml: join(dir, 'beat.yaml'), merged: join(dir, 'merged.yaml') };
writeFileSync(files.json, JSON.stringify(raw, null, 2));
const yamlText = stringify(raw);
writeFileSync(files.yaml, yamlText);
// The entries' own keys win over the defaults, so this is the same schedule with one more key each.
const defaults = 'x-defaults: &defaults\n  enabled: true\n  catchUp: once\n';
writeFileSync(files.merged, defaults + yamlText.replace(/^( {2}entry-\d+:\n)/gm, '$1    <<: *defaults\n'));

/** Runs `beat check` under GNU time: wall and CPU (user + system) seconds, peak RSS in MB. */
function measure(path, env = {}) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, '--max-semi-space-size=8', cli, 'check', '--config', path], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`beat check ${path} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  const [seconds, user, system, kb] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { seconds, cpuSeconds: Math.round((user + system) * 100) / 100, peakRssMB: Math.round(kb / 1024) };
}

try {
  if (ablation) {
    const runs = { on: [], off: [] };
    for (let pair = 0; pair < 2; pair += 1) {
      runs.on.push(measure(files.yaml));
      runs.off.push(measure(files.yaml, { BEAT_SPEEDUPS_OFF: 'yaml' }));
    }
    console.log(JSON.stringify({ entries: n, ...runs }));
    const mid = (rs, key) => (rs.map((r) => r[key]).sort((a, b) => a - b)[0] + rs.map((r) => r[key]).sort((a, b) => a - b)[1]) / 2;
    const row = (rs) =>
      `${mid(rs, 'seconds').toFixed(2)} s (CPU ${mid(rs, 'cpuSeconds').toFixed(2)} s), ${Math.round(mid(rs, 'peakRssMB'))} MB`;
    console.log(`| \`yaml\` | beat check, ${n.toLocaleString('en')} entries in YAML | ${row(runs.on)} | ${row(runs.off)} |`);
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
  const json = measure(files.json);
  const yaml = measure(files.yaml);
  const merged = measure(files.merged);
  console.log(JSON.stringify({ entries: n, json, yaml, merged }));
  const row = (r) => `${r.seconds} s (CPU ${r.cpuSeconds} s), ${r.peakRssMB} MB`;
  console.log(
    `| ${n.toLocaleString('en')} entries | JSON ${row(json)} | YAML ${row(yaml)} | YAML with merge keys ${row(merged)} | YAML/JSON: ${(yaml.seconds / json.seconds).toFixed(2)}x time, ${(yaml.cpuSeconds / json.cpuSeconds).toFixed(2)}x CPU, ${(yaml.peakRssMB / json.peakRssMB).toFixed(2)}x memory |`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
