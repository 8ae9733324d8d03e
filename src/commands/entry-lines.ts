/**
 * Runtime entries as JSON Lines (NDJSON): one `{"name": …, "entry": {…}}` object per line, what
 * `beat entries export --format ndjson` writes and `beat entries import` streams back. A whole YAML
 * or JSON document has to be read whole before its first entry is known; a file of lines is read a
 * chunk at a time, so an import holds one chunk of entries, not the file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { BeatError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import { canonicalEntryJson } from '../redis/entry-record-codec.js';
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

/** Bytes read at a time. */
const READ_SIZE = 1 << 20;

/** A non-blank line of the file, as it is, and its number. */
export interface TextLine {
  readonly line: number;
  readonly text: string;
}

/** Lines read, and the digest of their text (blank lines and line breaks included): the same digest, the same text. */
export interface LineChunk<L = ReadLine> {
  readonly lines: L[];
  readonly digest: string;
}

/**
 * The file's entries, `size` lines at a time (blank lines skipped), each with its line number. A
 * file that cannot be opened is bad input, named with the fix.
 */
export async function* entryLineChunks(
  command: string,
  cwd: string,
  file: string,
  size: number = DEFAULTS.ioChunk,
): AsyncGenerator<LineChunk> {
  for await (const { lines, digest } of textLineChunks(command, cwd, file, size))
    yield { lines: lines.map(({ text, line }) => readLine(text, line)), digest };
}

/** The file's non-blank lines as they are, `size` at a time (what entryLineChunks parses). */
export async function* textLineChunks(
  command: string,
  cwd: string,
  file: string,
  size: number = DEFAULTS.ioChunk,
): AsyncGenerator<LineChunk<TextLine>> {
  const stream = createReadStream(resolve(cwd, file), { encoding: 'utf8', highWaterMark: READ_SIZE });
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
  // Split here rather than by node:readline, whose async iterator costs a promise and a turn of the
  // loop per line. Line breaks are readline's: \n, \r\n and a lone \r.
  let chunk: TextLine[] = [];
  let hash = createHash('sha1');
  let number = 0;
  let rest = '';
  const lineBreak = /\r\n|\n|\r/g;
  try {
    for await (const piece of stream as AsyncIterable<string>) {
      const text = rest + piece;
      // A \r at the end may be the first half of a \r\n: it waits for the next piece.
      const end = text.endsWith('\r') ? text.length - 1 : text.length;
      let start = 0;
      let hashed = 0;
      // What was left of the last piece holds no line break but a last \r: searched from there on.
      lineBreak.lastIndex = Math.max(0, rest.length - 1);
      for (let found = lineBreak.exec(text); found !== null && found.index < end; found = lineBreak.exec(text)) {
        number += 1;
        const line = text.slice(start, found.index);
        start = found.index + found[0].length;
        if (line.trim() === '') continue;
        chunk.push({ line: number, text: line });
        if (chunk.length >= size) {
          yield { lines: chunk, digest: hash.update(text.slice(hashed, start)).digest('hex') };
          hashed = start;
          chunk = [];
          hash = createHash('sha1');
        }
      }
      hash.update(text.slice(hashed, start));
      rest = text.slice(start);
    }
  } finally {
    stream.destroy();
  }
  if (rest !== '') {
    hash.update(rest);
    number += 1;
    if (rest.replace(/\r$/, '').trim() !== '') chunk.push({ line: number, text: rest.replace(/\r$/, '') });
  }
  if (chunk.length > 0) yield { lines: chunk, digest: hash.digest('hex') };
}

/**
 * Whether the line is exactly what entryLine writes for its entry with canonical keys (what
 * `beat entries export --format ndjson` writes): then verbatimEntry takes its name and the entry's
 * stored JSON from the text, without parsing it again (`entry` left undefined).
 */
export function isVerbatimLine(text: string, input: EntryInput): boolean {
  return text === `{"name":${JSON.stringify(input.name)},"entry":${canonicalEntryJson(input.entry)}}`;
}

const NAME_HEAD = '{"name":"';
const ENTRY_HEAD = '","entry":';

/**
 * The name and the entry's JSON of a line isVerbatimLine passed (its text unchanged since). In a
 * JSON string every quote is escaped, so the first `","entry":` ends the name; a name with an
 * escape in it is decoded by JSON.parse.
 */
export function verbatimEntry(text: string): EntryInput & { readonly entry: undefined; readonly json: string } {
  const end = text.indexOf(ENTRY_HEAD, NAME_HEAD.length);
  const raw = text.slice(NAME_HEAD.length, end);
  const name = raw.includes('\\') ? (JSON.parse(text.slice(NAME_HEAD.length - 1, end + 1)) as string) : raw;
  return { name, entry: undefined, json: text.slice(end + ENTRY_HEAD.length, -1) };
}

/** One line's entry, or why it holds none. */
export function readLine(text: string, line: number): ReadLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { line, problem: `JSON syntax: ${errorMessage(error)}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return { line, problem: 'expected an object {"name": …, "entry": {…}} on each line' };
  const { name, entry } = value as Record<string, unknown>;
  // (No rest object: this runs once per line of an import.)
  const extra = Object.keys(value).filter((key) => key !== 'name' && key !== 'entry');
  if (typeof name !== 'string') return { line, problem: 'expected "name": the entry\'s name, a string' };
  if (entry === undefined) return { line, problem: `expected "entry": the definition of ${shown(name)}` };
  if (extra.length > 0)
    return { line, problem: `unknown field${extra.length === 1 ? '' : 's'} ${extra.join(', ')}: a line holds name and entry` };
  return { line, input: { name, entry } };
}
