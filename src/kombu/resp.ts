/**
 * RESP encoding of a command, written straight into a recycled Buffer: `LPUSH key payload…` for
 * plain publishing, `EVALSHA sha keys… args…` for the scheduler's fenced script. Publishing is
 * bound by client-side work: ioredis measures each argument (Buffer.byteLength), concatenates a
 * command as a string and encodes it again on write; a 1 KB envelope laid out as a flat string
 * costs more than copying its bytes; and fresh memory is expensive (first touch of a page costs
 * microseconds on a VM). Here each envelope is written once, as bytes, into a buffer that is
 * reused once its command is answered. See bench/redis-publish.mjs for the effect.
 */

import type { MessageTemplate } from '../celery/message.js';
import { EnvelopePush, envelopeLayout, envelopeSlotValue, templateLayout } from './redis-envelope.js';
import type { EnvelopeLayout } from './redis-envelope.js';
import type { RedisPush } from './redis-plan.js';

/** `$` + up to 10 digits + CRLF: room for the longest length header. */
const HEADER_ROOM = 13;
/** Strings up to this long are copied byte by byte when ASCII: cheaper than a call into Buffer#write. */
const SHORT_TEXT = 64;
/** An envelope's ASCII values from this long are copied by one latin1 Buffer#write (see writeAscii). */
const SHORT_VALUE = 24;

function digitCount(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10_000 ? 4 : n < 100_000 ? 5 : String(n).length;
}

/** Writes `$<n>\r\n` at `at`, returns its length. */
function writeLengthHeader(buf: Buffer, at: number, n: number): number {
  const digits = digitCount(n);
  buf[at] = 0x24; // '$'
  let rest = n;
  for (let k = digits; k >= 1; k -= 1) {
    buf[at + k] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  buf[at + digits + 1] = 0x0d;
  buf[at + digits + 2] = 0x0a;
  return digits + 3;
}

/**
 * A layout's constant text as bytes, one array per constant: copied into the command with
 * `TypedArray#set` (a memory copy, no call into C++), which took a quarter of the time of
 * `Buffer#write` of each constant's string. Made once per layout, so once per message shape.
 */
interface ConstantBytes {
  readonly parts: readonly Uint8Array[];
  readonly total: number;
}

const constantBytes = new WeakMap<EnvelopeLayout, ConstantBytes>();

function constantBytesOf(layout: EnvelopeLayout): ConstantBytes {
  let encoded = constantBytes.get(layout);
  if (encoded === undefined) {
    const parts = layout.constants.map((c) => Buffer.from(c, 'utf8'));
    encoded = { parts, total: parts.reduce((sum, b) => sum + b.length, 0) };
    constantBytes.set(layout, encoded);
  }
  return encoded;
}

/**
 * Lays out and measures a template's envelopes ahead of its first message (once per shape), so
 * that a burst of first runs only copies bytes (the runner does this while it sleeps).
 */
export function prepareLayout(template: MessageTemplate, exchange: string, routingKey: string): void {
  constantBytesOf(templateLayout(template, exchange, routingKey));
}

/** One bulk string of a command: text (written as UTF-8), or a push whose payload is written (from its envelope layout when it has one). */
export type RespArg = string | RedisPush;

/** The layout an argument is written from, or undefined when it is written as text. */
function layoutOf(arg: RespArg): EnvelopeLayout | undefined {
  return typeof arg !== 'string' && arg instanceof EnvelopePush && !arg.built
    ? envelopeLayout(arg.message, arg.exchange, arg.routingKey)
    : undefined;
}

/** The text an argument is written as when it has no layout. */
function textOf(arg: RespArg): string {
  return typeof arg === 'string' ? arg : arg.payload;
}

/** Copies a short ASCII string byte by byte; returns false (having written nothing that counts) when it is not ASCII. */
function writeShortAscii(buf: Buffer, at: number, text: string): boolean {
  for (let k = 0; k < text.length; k += 1) {
    const code = text.charCodeAt(k);
    if (code > 0x7f) return false;
    buf[at + k] = code;
  }
  return true;
}

/**
 * Writes an ASCII value at `at`: a short one byte by byte, a longer one by one latin1 write (the call
 * into C++ costs about as much as copying ~24 characters in JavaScript). Returns its length.
 */
function writeAscii(buf: Buffer, at: number, text: string): number {
  if (text.length >= SHORT_VALUE) return buf.write(text, at, 'latin1');
  for (let k = 0; k < text.length; k += 1) buf[at + k] = text.charCodeAt(k);
  return text.length;
}

/**
 * The values of every layout's slots of the command being encoded, argument after argument: one
 * array for every command (encodeCommand is synchronous), grown once to a batch's thousands of
 * values instead of for each command.
 */
const values: string[] = [];
/** Each argument's layout (undefined: written as text), likewise. */
const layouts: (EnvelopeLayout | undefined)[] = [];
/** Each argument's length in bytes when it has a layout, else the most its text can take (3 UTF-8 bytes per UTF-16 code unit). */
const sizes: number[] = [];
const NO_ARGS: readonly RespArg[] = [];

/**
 * Writes `*<n>\r\n$<k>\r\n<arg>\r\n…` of `args` then `rest` into a buffer from `acquire` and returns the written part
 * (a view of that buffer) with the buffer itself, to release once the command is answered. An
 * envelope whose text was never built is written from its layout: encoded constants and its
 * values copied in, no string made. Two passes over the arguments, the first to measure (the
 * buffer must hold the command), the second to write; what the first learns of each argument is
 * kept in a few arrays for the whole command, not in an object per argument (a burst's commands
 * carry hundreds of envelopes each).
 */
export function encodeCommand(
  args: readonly RespArg[],
  acquire: (bytes: number) => Buffer,
  rest: readonly RespArg[] = NO_ARGS,
): { readonly buffer: Buffer; readonly command: Buffer } {
  const first = args.length;
  const count = first + rest.length;
  const argAt = (a: number): RespArg => (a < first ? args[a] : rest[a - first]) as RespArg;
  let valueCount = 0;
  let capacity = HEADER_ROOM;
  for (let a = 0; a < count; a += 1) {
    const arg = argAt(a);
    const layout = layoutOf(arg);
    layouts[a] = layout;
    let bytes: number;
    if (layout === undefined) bytes = textOf(arg).length * 3;
    else {
      const push = arg as EnvelopePush;
      bytes = constantBytesOf(layout).total;
      // Slot values are ASCII by construction (quoteJson, base64, our times), length = bytes, but
      // for an entry's own values (its name, args, kwargs), which may not be.
      const ascii = push.message.template.ownAscii;
      for (const slot of layout.slots) {
        const v = envelopeSlotValue(push.message, slot, push.deliveryTag);
        values[valueCount++] = v;
        bytes += ascii ? v.length : Buffer.byteLength(v, 'utf8');
      }
    }
    sizes[a] = bytes;
    capacity += bytes + HEADER_ROOM + 2;
  }
  const buf = acquire(capacity);
  let off = buf.write(`*${count}\r\n`, 0, 'latin1');
  let nextValue = 0;
  for (let a = 0; a < count; a += 1) {
    const arg = argAt(a);
    const layout = layouts[a];
    if (layout === undefined) {
      const text = textOf(arg);
      if (text.length <= SHORT_TEXT && writeShortAscii(buf, off + 3 + digitCount(text.length), text)) {
        off += writeLengthHeader(buf, off, text.length) + text.length;
      } else {
        // The byte length is known only once written: write the text after room for the header of
        // the longest possible length, then the header; move the text back if the header is shorter.
        const room = 3 + digitCount(sizes[a] as number);
        const start = off + room;
        const n = buf.write(text, start, 'utf8');
        const headerLength = writeLengthHeader(buf, off, n);
        if (headerLength !== room) buf.copyWithin(off + headerLength, start, start + n);
        off += headerLength + n;
      }
    } else {
      off += writeLengthHeader(buf, off, sizes[a] as number);
      const ascii = (arg as EnvelopePush).message.template.ownAscii;
      const { parts } = constantBytesOf(layout);
      const slots = layout.slots.length;
      for (let i = 0; i <= slots; i += 1) {
        const c = parts[i] as Uint8Array;
        buf.set(c, off);
        off += c.length;
        if (i === slots) break;
        const v = values[nextValue++] as string;
        off += ascii ? writeAscii(buf, off, v) : buf.write(v, off, 'utf8');
      }
    }
    buf[off++] = 0x0d;
    buf[off++] = 0x0a;
  }
  // Not kept until the next command: they belong to messages that can go now.
  values.fill('', 0, valueCount);
  layouts.fill(undefined, 0, count);
  return { buffer: buf, command: buf.subarray(0, off) };
}

/**
 * Recycles command buffers: a buffer goes back only once its command has been answered (so the
 * socket no longer needs its bytes). Keeps at most `keep` buffers of at most `maxPooledBytes`.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  constructor(
    private readonly keep: number,
    private readonly maxPooledBytes = 64 * 1024 * 1024,
  ) {}

  acquire(minBytes: number): Buffer {
    const at = this.free.findIndex((b) => b.length >= minBytes);
    if (at !== -1) return this.free.splice(at, 1)[0] as Buffer;
    // Round up so that slightly bigger batches reuse the buffer too.
    return Buffer.allocUnsafeSlow(Math.max(1 << 20, 2 ** Math.ceil(Math.log2(minBytes))));
  }

  release(buf: Buffer): void {
    if (buf.length <= this.maxPooledBytes && this.free.length < this.keep) this.free.push(buf);
  }
}
