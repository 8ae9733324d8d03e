/**
 * Notes that operators give with a pause, resume or trigger (`--note`, the API): checked here, kept in
 * Redis with the action (the pause notes and the notes hash, keys.ts) where `beat status` shows them
 * and the audit trail can pick them up. Pure. (What a note may hold: base/note-text.ts.)
 */
import { storedObject } from '../base/stored-object.js';

export type NoteAction = 'pause' | 'resume' | 'trigger';

/** The last note given with an action on an entry. */
export interface ControlNote {
  readonly action: NoteAction;
  readonly note: string;
  /** Who gave it: "user" (the CLI, the API), or "pauseOnFailure". */
  readonly by: string;
  readonly atMs: number;
}

export function encodeControlNote(n: ControlNote): string {
  return JSON.stringify({ action: n.action, note: n.note, by: n.by, at: n.atMs });
}

export function decodeControlNote(text: string): ControlNote | undefined {
  const { action, note, by, at } = storedObject(text) ?? {};
  if (action !== 'pause' && action !== 'resume' && action !== 'trigger') return undefined;
  if (typeof note !== 'string' || typeof by !== 'string' || typeof at !== 'number') return undefined;
  return { action, note, by, atMs: at };
}
