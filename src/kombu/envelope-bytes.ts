/**
 * The arguments of a script call packed into one recycled Buffer (a MessagePack array, see
 * packArgs), each envelope that has a layout copied from its encoded constants and its values,
 * never built as a string. Publishing is bound by client-side work: a 1 KB envelope laid out as a
 * flat string costs more than copying its bytes, every argument of a command costs ioredis (and
 * Redis) work of its own, and fresh memory is expensive (first touch of a page costs microseconds
 * on a VM), so the buffer is reused once its command is answered.
 */

import type { MessageTemplate } from '../celery/message.js';
import { EnvelopePush, envelopeLayout, envelopeSlotValue, templateLayout } from './redis-envelope.js';
import type { EnvelopeLayout } from './redis-envelope.js';
import type { RedisPush } from './redis-plan.js';

/** An envelope's ASCII values from this long are copied by one latin1 Buffer#write (see writeAscii). */
const SHORT_VALUE = 24;

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

/** One argument of a script call: text, or a push whose payload is written (from its envelope layout when it has one). */
export type ScriptArg = string | RedisPush;

/** The layout an argument is written from, or undefined when it goes as text. */
function layoutOf(arg: ScriptArg): EnvelopeLayout | undefined {
  return typeof arg !== 'string' && arg instanceof EnvelopePush && !arg.built
    ? envelopeLayout(arg.message, arg.exchange, arg.routingKey)
    : undefined;
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
 * The values of every layout's slots of the arguments being packed, argument after argument: one
 * array for every call (packArgs is synchronous), grown once to a batch's thousands of values
 * instead of for each call.
 */
const values: string[] = [];
/** Each argument's layout (undefined: it goes as text), likewise. */
const layouts: (EnvelopeLayout | undefined)[] = [];

/** A MessagePack str 32 or array 32 header: its type byte, then the length as a 32-bit big-endian integer. */
const STR32 = 0xdb;
const ARRAY32 = 0xdd;
const HEADER = 5;

/**
 * The arguments as one MessagePack array of strings, which a Lua script reads with Redis's built-in
 * `cmsgpack.unpack` in one call: the script call carries one argument instead of thousands, each of
 * which would cost the client (ioredis measures, frames and copies every argument) and Redis (one
 * argument object each). Only the two MessagePack types it needs are written, each with its 32-bit
 * length header (valid MessagePack at any length). An envelope with a layout is written straight
 * from it; text as UTF-8. Written into a buffer from `acquire`, returned too, to release once the
 * call is answered. Two passes over the arguments, the first to measure, the second to write.
 */
export function packArgs(
  args: readonly ScriptArg[],
  acquire: (bytes: number) => Buffer,
): { readonly buffer: Buffer; readonly packed: Buffer } {
  let valueCount = 0;
  let capacity = HEADER;
  for (let a = 0; a < args.length; a += 1) {
    const arg = args[a] as ScriptArg;
    const layout = layoutOf(arg);
    layouts[a] = layout;
    // Text: the most it can take, 3 UTF-8 bytes per UTF-16 code unit.
    let bytes: number;
    if (layout === undefined) bytes = (typeof arg === 'string' ? arg : arg.payload).length * 3;
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
    capacity += HEADER + bytes;
  }
  const buf = acquire(capacity);
  buf[0] = ARRAY32;
  buf.writeUInt32BE(args.length, 1);
  let off = HEADER;
  let nextValue = 0;
  for (let a = 0; a < args.length; a += 1) {
    const arg = args[a] as ScriptArg;
    const layout = layouts[a];
    buf[off] = STR32;
    const start = off + HEADER;
    if (layout === undefined) {
      off = start + buf.write(typeof arg === 'string' ? arg : arg.payload, start, 'utf8');
    } else {
      const push = arg as EnvelopePush;
      const ascii = push.message.template.ownAscii;
      const { parts } = constantBytesOf(layout);
      const slots = layout.slots.length;
      off = start;
      for (let i = 0; i <= slots; i += 1) {
        const c = parts[i] as Uint8Array;
        buf.set(c, off);
        off += c.length;
        if (i === slots) break;
        const v = values[nextValue++] as string;
        off += ascii ? writeAscii(buf, off, v) : buf.write(v, off, 'utf8');
      }
    }
    buf.writeUInt32BE(off - start, start - 4);
  }
  // Not kept until the next call: they belong to messages that can go now.
  values.fill('', 0, valueCount);
  layouts.fill(undefined, 0, args.length);
  return { buffer: buf, packed: buf.subarray(0, off) };
}

/** `packArgs` of plain text, in a buffer of its own: for a call made once (a test's). */
export function packStrings(args: readonly string[]): Buffer {
  return packArgs(args, (bytes) => Buffer.alloc(bytes)).packed;
}

/**
 * Recycles argument buffers: a buffer goes back only once its command has been answered (ioredis
 * copies the arguments when it writes the command, which may wait for a connection). Keeps at most `keep` buffers of at most `maxPooledBytes`.
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
