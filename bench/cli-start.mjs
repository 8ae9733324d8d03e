// The command line's start (issue 48): `beat --help`, `beat check` and `beat next` of
// schedules/example.yaml, each against `node -e 0` measured in the same run. The cases take turns,
// one of each per round, so that a loaded machine stretches them alike: only the ratios mean
// something. Each figure is the median over the rounds of a spawned process's wall time, start to
// exit, started as `beat` is (the shebang's Node flags). With --against OTHER/dist the same three
// commands of that build run in the same rounds (a change, before and after). Issue 65's target:
// `beat check` and `beat next` each within TARGET × `node -e 0`; the last column says which hold it.
//
//   npm run build && node bench/cli-start.mjs [--rounds 21] [--against /path/to/other/dist]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
/** At most this many times `node -e 0`, for the commands that read a config (issue 65). */
const TARGET = 4;
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '21' },
    against: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: ${values.rounds} is not a whole number of rounds (try 21)`);
const config = resolve(HERE, '../schedules/example.yaml');

/** The Node flags of a build's shebang (`#!/usr/bin/env -S node --flag`), which `beat` starts with. */
function shebangFlags(cli) {
  const first = readFileSync(cli, 'utf8').split('\n', 1)[0] ?? '';
  return (/^#!.*\bnode\b(.*)$/.exec(first)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
}

function commandsOf(dist, label) {
  const cli = join(dist, 'cli.js');
  const node = [...shebangFlags(cli), cli];
  return [
    { label: `beat --help${label}`, args: [...node, '--help'] },
    { label: `beat check${label}`, args: [...node, 'check', '--config', config], targeted: true },
    { label: `beat next${label}`, args: [...node, 'next', '--config', config], targeted: true },
  ];
}

/** `node -e 0` first: the baseline of the ratios. */
const CASES = [
  { label: 'node -e 0', args: ['-e', '0'] },
  ...commandsOf(resolve(HERE, '../dist'), ''),
  ...(values.against === undefined ? [] : commandsOf(resolve(values.against), ` (${values.against})`)),
];

function timeOnce(args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms;
}

function median(list) {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// One round unmeasured: the file system's cache then holds what each case reads.
for (const { args } of CASES) timeOnce(args);
const times = CASES.map(() => []);
for (let round = 0; round < rounds; round++) CASES.forEach(({ args }, i) => times[i].push(timeOnce(args)));

const base = median(times[0]);
console.log(`| command | median (ms) | × node -e 0 | ≤ ${TARGET}× |\n|---|---:|---:|---|`);
CASES.forEach(({ label, targeted }, i) => {
  const ratio = median(times[i]) / base;
  const held = targeted ? (ratio <= TARGET ? 'yes' : '**no**') : '';
  console.log(`| ${label} | ${median(times[i]).toFixed(0)} | ${ratio.toFixed(2)} | ${held} |`);
});
console.log(`\n${rounds} rounds, Node ${process.version}`);
