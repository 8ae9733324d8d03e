/**
 * An entry's canvas in words, for the readers that show what an entry runs (`beat status`, `beat
 * check`, the dashboard): its task alone would name only the canvas's first task, with no sign of
 * the rest. A chain lists its steps (`chain: a → b → c`), a group or chord its size and first
 * members (`group(5): a, b, c, …`, `chord(2): a, b → body`).
 */
import { isSignature } from './canvas-schema.js';
import type { CanvasParts, ParsedMember, ParsedStep } from './canvas-schema.js';

/** The members a group or chord names before `…`: its size says how many there are. */
const MEMBERS_NAMED = 3;

function members(list: readonly ParsedMember[]): string {
  const named = list.slice(0, MEMBERS_NAMED).map((m) => (isSignature(m) ? m.task : `chain(${m.chain.map((s) => s.task).join(' → ')})`));
  return list.length > MEMBERS_NAMED ? `${named.join(', ')}, …` : named.join(', ');
}

function step(s: ParsedStep): string {
  if (isSignature(s)) return s.task;
  return 'group' in s ? `group(${s.group.length})` : `chord(${s.chord.header.length}) → ${s.chord.body.task}`;
}

/** The canvas in words; undefined for a plain task (one with link callbacks too: its task is what runs). */
export function describeCanvas(canvas: CanvasParts | undefined): string | undefined {
  if (canvas?.chain !== undefined) return `chain: ${canvas.chain.map(step).join(' → ')}`;
  if (canvas?.group !== undefined) return `group(${canvas.group.length}): ${members(canvas.group)}`;
  if (canvas?.chord !== undefined)
    return `chord(${canvas.chord.header.length}): ${members(canvas.chord.header)} → ${canvas.chord.body.task}`;
  return undefined;
}
