/**
 * Runtime entries as JSON Lines (NDJSON): one `{"name": …, "entry": {…}}` object per line, what
 * `beat entries export --format ndjson` writes and `beat entries import` streams back. A whole YAML
 * or JSON document has to be read whole before its first entry is known; a file of lines is read a
 * chunk at a time, so an import of a million entries holds one chunk of them, not the file.
 */
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { BeatError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import type { EntryInput } from './entry-files.js';

/** File names read as JSON Lines, one entry per line, streamed. */
export function isEntryLinesFile(path: string): boolean {
  return /\.(ndjson|jsonl)$/i.test(path);
}

/** One entry as a line (no newline). */
export function entryLine(name: string, entry: unknown): string {
  return JSON.stringify({ name, entry });
}

/** One line read: the entry it holds, or why it holds none. */
export type ReadLine = { readonly line: number } & (
  { readonly input: EntryInput; readonly problem?: undefined } | { readonly problem: string; readonly input?: undefined }
);

/**
 * The file's entries, `size` lines at a time (blank lines skipped), each with its line number. A
 * file that cannot be opened is bad input, named with the fix.
 */
export async function* entryLineChunks(
  command: string,
  cwd: string,
  file: string,
  size: number = DEFAULTS.ioChunk,
): AsyncGenerator<ReadLine[]> {
  const stream = createReadStream(resolve(cwd, file), { encoding: 'utf8' });
  const opened = new Promise<void>((ok, fail) => {
    stream.once('ready', ok);
    stream.once('error', fail);
  });
  try {
    await opened;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file; check the path' : code === 'EISDIR' ? 'it is a directory' : errorMessage(error);
    throw new BeatError(ErrorCode.ImportInput, `beat ${command}: cannot read ${shown(file)}: ${why}`, { cause: error });
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let chunk: ReadLine[] = [];
  let number = 0;
  try {
    for await (const text of lines) {
      number += 1;
      if (text.trim() === '') continue;
      chunk.push(readLine(text, number));
      if (chunk.length >= size) {
        yield chunk;
        chunk = [];
      }
    }
  } finally {
    lines.close();
    stream.destroy();
  }
  if (chunk.length > 0) yield chunk;
}

function readLine(text: string, line: number): ReadLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { line, problem: `JSON syntax: ${errorMessage(error)}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return { line, problem: 'expected an object {"name": …, "entry": {…}} on each line' };
  const { name, entry, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (typeof name !== 'string') return { line, problem: 'expected "name": the entry\'s name, a string' };
  if (entry === undefined) return { line, problem: `expected "entry": the definition of ${shown(name)}` };
  if (extra.length > 0)
    return { line, problem: `unknown field${extra.length === 1 ? '' : 's'} ${extra.join(', ')}: a line holds name and entry` };
  return { line, input: { name, entry } };
}
