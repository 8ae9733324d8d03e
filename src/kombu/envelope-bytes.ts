/**
 * The envelopes of a script call written as bytes, into one recycled Buffer: each envelope that has
 * a layout is copied from its encoded constants and its values, never built as a string, and goes
 * to ioredis as a Buffer argument (a view of that buffer), which ioredis copies into the command as
 * it is. Publishing is bound by client-side work: a 1 KB envelope laid out as a flat string costs
 * more than copying its bytes, and fresh memory is expensive (first touch of a page costs
 * microseconds on a VM), so the buffer is reused once its command is answered.
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
 * The values of every layout's slots of the arguments being written, argument after argument: one
 * array for every call (encodeArgs is synchronous), grown once to a batch's thousands of values
 * instead of for each call.
 */
const values: string[] = [];
/** Each argument's layout (undefined: it goes as text), likewise. */
const layouts: (EnvelopeLayout | undefined)[] = [];

/**
 * The arguments as ioredis takes them: text as it is, a push's payload as its text when it has no
 * layout (or was built), and an envelope with a layout as a Buffer, written from its layout into
 * one buffer from `acquire` (returned too, to release once the call is answered). Two passes over
 * the arguments, the first to measure (the buffer must hold them all), the second to write.
 */
export function encodeArgs(
  args: readonly ScriptArg[],
  acquire: (bytes: number) => Buffer,
): { readonly buffer: Buffer | undefined; readonly argv: (string | Buffer)[] } {
  const argv = new Array<string | Buffer>(args.length);
  let valueCount = 0;
  let capacity = 0;
  for (let a = 0; a < args.length; a += 1) {
    const arg = args[a] as ScriptArg;
    const layout = layoutOf(arg);
    layouts[a] = layout;
    if (layout === undefined) {
      argv[a] = typeof arg === 'string' ? arg : arg.payload;
      continue;
    }
    const push = arg as EnvelopePush;
    capacity += constantBytesOf(layout).total;
    // Slot values are ASCII by construction (quoteJson, base64, our times), length = bytes, but
    // for an entry's own values (its name, args, kwargs), which may not be.
    const ascii = push.message.template.ownAscii;
    for (const slot of layout.slots) {
      const v = envelopeSlotValue(push.message, slot, push.deliveryTag);
      values[valueCount++] = v;
      capacity += ascii ? v.length : Buffer.byteLength(v, 'utf8');
    }
  }
  if (capacity === 0) {
    layouts.fill(undefined, 0, args.length);
    return { buffer: undefined, argv };
  }
  const buf = acquire(capacity);
  let off = 0;
  let nextValue = 0;
  for (let a = 0; a < args.length; a += 1) {
    const layout = layouts[a];
    if (layout === undefined) continue;
    const push = args[a] as EnvelopePush;
    const ascii = push.message.template.ownAscii;
    const { parts } = constantBytesOf(layout);
    const slots = layout.slots.length;
    const start = off;
    for (let i = 0; i <= slots; i += 1) {
      const c = parts[i] as Uint8Array;
      buf.set(c, off);
      off += c.length;
      if (i === slots) break;
      const v = values[nextValue++] as string;
      off += ascii ? writeAscii(buf, off, v) : buf.write(v, off, 'utf8');
    }
    argv[a] = buf.subarray(start, off);
  }
  // Not kept until the next call: they belong to messages that can go now.
  values.fill('', 0, valueCount);
  layouts.fill(undefined, 0, args.length);
  return { buffer: buf, argv };
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
