// What the machine itself costs a process that wakes from idle, as a 1-second entry's leader does
// every second (issue 69's "1 s entry: lateness p99 ≤ 5 ms on its own"): the same small piece of
// work (SHA-1 and JSON text, as a run's id and message take), timed back to back and then as the
// first pieces after sleeping 10 ms to 1 s. No tsbeat code runs here: on a machine whose CPU comes
// back slow from idle (a virtual machine's vCPU, a core's power state), the rows after 300 ms and
// 1 s show it, and no scheduler's first milliseconds after a second of sleep are faster than that.
//
//   node bench/idle-wake.mjs [--rounds 9]
import { hash } from 'node:crypto';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '9' } } });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: ${values.rounds} is not a whole number of rounds (try 9)`);

/** About 0.1 ms of warm work on the machine this was written on. */
function piece() {
  let length = 0;
  for (let i = 0; i < 200; i++) {
    length += hash('sha1', `deployment\nentry-${i}\n1795970000000`, 'hex').length;
    length += JSON.stringify({ id: i, args: [i, 'a'], kwargs: { k: 'v' } }).length;
  }
  return length;
}

/** The pieces timed one after another once woken, ms each: enough for the slowest row to come back to the first. */
const PIECES = 32;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];

/** The columns: pieces 1 to 6 alone, then the rest in groups of 6 or fewer (each group's median piece). */
const GROUPS = [[0], [1], [2], [3], [4], [5]];
for (let from = 6; from < PIECES; from += 6) GROUPS.push(Array.from({ length: Math.min(6, PIECES - from) }, (_, i) => from + i));
const heading = (group) => (group.length === 1 ? `piece ${group[0] + 1}` : `pieces ${group[0] + 1}-${group.at(-1) + 1}`);

for (let i = 0; i < 1000; i++) piece(); // compiled and optimised before anything is timed
console.log(`| slept before | ${GROUPS.map(heading).join(' | ')} | all ${PIECES} pieces |`);
console.log(`|---|${'---:|'.repeat(GROUPS.length + 1)}`);
for (const idleMs of [0, 10, 100, 300, 1000]) {
  const rows = [];
  for (let round = 0; round < rounds; round++) {
    await sleep(idleMs);
    const times = [];
    for (let i = 0; i < PIECES; i++) {
      const started = performance.now();
      piece();
      times.push(performance.now() - started);
    }
    rows.push(times);
  }
  // Each piece's median over the rounds, then a group's median piece; the last column, the median round's whole.
  const pieceMedians = Array.from({ length: PIECES }, (_, i) => median(rows.map((row) => row[i])));
  const cells = GROUPS.map((group) => median(group.map((i) => pieceMedians[i])).toFixed(2));
  const whole = median(rows.map((row) => row.reduce((sum, ms) => sum + ms, 0))).toFixed(1);
  console.log(`| ${idleMs} ms | ${cells.join(' | ')} | ${whole} |`);
}
console.log(`\nms: medians of ${rounds} rounds, Node ${process.version}`);
