// The plan-apply workload (issue 52): `beat plan` and `beat apply` of 100,000 runtime entries of one
// owner, each in a fresh process under GNU time, beside 1,000 entries made by hand:
//   plan (all new)     `beat plan --json` of the file against an empty owner
//   apply (create)     `beat apply`: one atomic write of every entry
//   plan (10% changed) the file with every tenth entry's schedule changed and 1% dropped
//   apply (edit+prune) that file applied, with the digest of the plan before it
//   apply (unchanged)  the same file again: nothing to write
// Wall and CPU seconds, peak RSS, and the same run's `beat entries import` of the file as the yardstick.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { tempDir } from './procs.mjs';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const DEPLOYMENT = 'bench-plan-apply';
export const PLAN_APPLY_BEGIN = '<!-- plan-apply: written by npm run bench -- --only plan-apply -->';
export const PLAN_APPLY_END = '<!-- /plan-apply -->';
export const STANDARD_PLAN_APPLY = 100_000;

const nameOf = (i) => `owned-${String(i).padStart(7, '0')}`;

/** A JSON Lines file of n entries; `changed` changes every tenth schedule and leaves out every hundredth entry. */
function writeInput(path, n, changed) {
  const fd = openSync(path, 'w');
  let lines = [];
  for (let i = 0; i < n; i += 1) {
    if (changed && i % 100 === 99) continue;
    const minute = changed && i % 10 === 0 ? (i + 1) % 60 : i % 60;
    lines.push(JSON.stringify({ name: nameOf(i), entry: { task: 'bench.tick', schedule: { cron: `${minute} 3 * * *` }, args: [i] } }));
    if (lines.length === 10_000) {
      writeSync(fd, `${lines.join('\n')}\n`);
      lines = [];
    }
  }
  if (lines.length > 0) writeSync(fd, `${lines.join('\n')}\n`);
  closeSync(fd);
}

function measure(nodeFlags, args, config, expectCodes = [0]) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, ...nodeFlags, CLI, ...args, '--config', config], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const [wall, user, sys, kb] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  if (!expectCodes.includes(r.status)) throw new Error(`beat ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 500)}`);
  return { wall, cpu: user + sys, rssMb: Math.round(kb / 1024), stdout: r.stdout };
}

/** Runs the workload at `n` entries on `broker` (its database flushed before and after); returns the Markdown section. */
export async function planApply({ broker, n, nodeFlags, log }) {
  const dir = tempDir('bench-plan-apply-');
  const redis = new Redis(broker);
  try {
    await redis.flushdb();
    const config = join(dir, 'beat.yaml');
    writeFileSync(config, `name: ${DEPLOYMENT}\nbroker: { url: "${broker}" }\n`);
    const hand = join(dir, 'hand.ndjson');
    writeFileSync(
      hand,
      `${Array.from({ length: 1000 }, (_, i) => JSON.stringify({ name: `hand-${i}`, entry: { task: 'bench.hand', schedule: 3600 } })).join('\n')}\n`,
    );
    measure(nodeFlags, ['entries', 'import', hand], config);
    const first = join(dir, 'first.ndjson');
    const second = join(dir, 'second.ndjson');
    writeInput(first, n, false);
    writeInput(second, n, true);
    const rows = [];
    const row = (step, m, said) => {
      const line = `| ${step} | ${m.wall.toFixed(1)} s | ${m.cpu.toFixed(1)} s | ${m.rssMb} MB | ${said} |`;
      rows.push(line);
      log(line);
    };
    log(`plan-apply: ${n.toLocaleString('en')} entries`);
    const counts = (m) => {
      const plan = JSON.parse(m.stdout);
      const c = plan.counts;
      return { plan, said: `${c.add} add, ${c.change} change, ${c.remove} remove, ${c.unchanged} unchanged` };
    };
    const planNew = measure(nodeFlags, ['plan', '--json', '--entries', first, '--owner', 'bench'], config, [3]);
    row('plan (all new)', planNew, counts(planNew).said);
    const applyNew = measure(nodeFlags, ['apply', '--entries', first, '--owner', 'bench'], config);
    row('apply (create, one write)', applyNew, applyNew.stdout.split(' (')[0].replace(/^applied for owner \S+ in deployment \S+: /, ''));
    const planEdit = measure(nodeFlags, ['plan', '--json', '--entries', second, '--owner', 'bench'], config, [3]);
    const edited = counts(planEdit);
    row('plan (10% changed, 1% removed)', planEdit, edited.said);
    const applyEdit = measure(nodeFlags, ['apply', '--entries', second, '--owner', 'bench', '--plan-digest', edited.plan.digest], config);
    row(
      'apply (edit and prune, --plan-digest)',
      applyEdit,
      applyEdit.stdout.split(' (')[0].replace(/^applied for owner \S+ in deployment \S+: /, ''),
    );
    const applySame = measure(nodeFlags, ['apply', '--entries', second, '--owner', 'bench'], config);
    row('apply (unchanged)', applySame, applySame.stdout.split(' (')[0].replace(/^applied for owner \S+ in deployment \S+: /, ''));
    const hands = (await redis.hkeys(`tsbeat:{${DEPLOYMENT}}:entries`)).filter((k) => k.startsWith('hand-')).length;
    if (hands !== 1000) throw new Error(`the apply touched the hand-made entries: ${hands} of 1000 left`);
    await redis.flushdb();
    const importStep = measure(nodeFlags, ['entries', 'import', first], config);
    row('yardstick: entries import of the same file', importStep, 'chunks of 10,000');
    return [
      PLAN_APPLY_BEGIN,
      '',
      `${n.toLocaleString('en')} runtime entries of one owner beside 1,000 made by hand (left untouched, checked), each step a fresh`,
      '`node dist/cli.js` under GNU time on this machine (2 shared cores); the apply is one atomic write of every entry.',
      '',
      '| step | wall | CPU | peak RSS | what it did |',
      '|---|---|---|---|---|',
      ...rows,
      '',
      PLAN_APPLY_END,
    ].join('\n');
  } finally {
    await redis.flushdb().catch(() => undefined);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function withPlanApplySection(text, generated) {
  const begin = text.indexOf(PLAN_APPLY_BEGIN);
  const end = text.indexOf(PLAN_APPLY_END);
  if (begin >= 0 && end > begin) return text.slice(0, begin) + generated + text.slice(end + PLAN_APPLY_END.length);
  return `${text.trimEnd()}\n\n## Plan and apply of 100,000 entries of one owner (issue 52)\n\n${generated}\n`;
}
