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
import type { EnvelopeLayout, EnvelopeSlot } from './redis-envelope.js';
import type { RedisPush } from './redis-plan.js';

/** `$` + up to 10 digits + CRLF: room for the longest length header. */
const HEADER_ROOM = 13;
/** Strings up to this long are copied byte by byte when ASCII: cheaper than a call into Buffer#write. */
const SHORT_TEXT = 64;

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
 * A layout's constant text as bytes: ASCII (the usual case) is written from the strings themselves,
 * one byte per character; other text is encoded to UTF-8 once and copied. Either way no buffer is
 * made per layout for the common case: a first burst has as many layouts as messages.
 */
type ConstantBytes =
  { readonly ascii: true; readonly total: number } | { readonly ascii: false; readonly buffers: readonly Buffer[]; readonly total: number };

/** A payload ready to write: a layout's constants with this envelope's values, or a string. */
type Prepared =
  | {
      readonly layout: EnvelopeLayout;
      readonly constants: ConstantBytes;
      readonly values: readonly string[];
      /** Every value ASCII (copied byte by byte), or some not (each encoded as UTF-8). */
      readonly ascii: boolean;
      readonly bytes: number;
    }
  | { readonly text: string; readonly bytes: number };

const constantBytes = new WeakMap<EnvelopeLayout, ConstantBytes>();
const ASCII = /^[\x00-\x7f]*$/;

function constantBytesOf(layout: EnvelopeLayout): ConstantBytes {
  let encoded = constantBytes.get(layout);
  if (encoded === undefined) {
    if (layout.constants.every((c) => ASCII.test(c))) {
      encoded = { ascii: true, total: layout.constants.reduce((sum, c) => sum + c.length, 0) };
    } else {
      const buffers = layout.constants.map((c) => Buffer.from(c, 'utf8'));
      encoded = { ascii: false, buffers, total: buffers.reduce((sum, b) => sum + b.length, 0) };
    }
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

function prepare(arg: RespArg): Prepared {
  if (typeof arg === 'string') return { text: arg, bytes: arg.length * 3 };
  if (arg instanceof EnvelopePush && !arg.built) {
    const layout = envelopeLayout(arg.message, arg.exchange, arg.routingKey);
    if (layout !== undefined) {
      const constants = constantBytesOf(layout);
      let bytes = constants.total;
      // Slot values are ASCII by construction (quoteJson, base64, our times), length = bytes, but
      // for an entry's own values (its name, args, kwargs), which may not be.
      const ascii = arg.message.template.ownAscii;
      const values = new Array<string>(layout.slots.length);
      for (let i = 0; i < values.length; i += 1) {
        const v = envelopeSlotValue(arg.message, layout.slots[i] as EnvelopeSlot, arg.deliveryTag);
        values[i] = v;
        bytes += ascii ? v.length : Buffer.byteLength(v, 'utf8');
      }
      return { layout, constants, values, ascii, bytes };
    }
  }
  const text = arg.payload;
  // Sized for the worst case (3 UTF-8 bytes per UTF-16 code unit); the real length is known once written.
  return { text, bytes: text.length * 3 };
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
 * Writes `*<n>\r\n$<k>\r\n<arg>\r\n…` into a buffer from `acquire` and returns the written part
 * (a view of that buffer) with the buffer itself, to release once the command is answered. An
 * envelope whose text was never built is written from its layout: encoded constants and ASCII
 * values copied in, no string made.
 */
export function encodeCommand(
  args: readonly RespArg[],
  acquire: (bytes: number) => Buffer,
): { readonly buffer: Buffer; readonly command: Buffer } {
  const prepared = args.map(prepare);
  let capacity = HEADER_ROOM;
  for (const p of prepared) capacity += p.bytes + HEADER_ROOM + 2;
  const buf = acquire(capacity);
  let off = buf.write(`*${args.length}\r\n`, 0, 'latin1');
  for (const p of prepared) {
    if ('text' in p) {
      const { text } = p;
      if (text.length <= SHORT_TEXT && writeShortAscii(buf, off + 3 + digitCount(text.length), text)) {
        off += writeLengthHeader(buf, off, text.length) + text.length;
      } else {
        // The byte length is known only once written: write the text after room for the header of
        // the longest possible length, then the header; move the text back if the header is shorter.
        const room = 3 + digitCount(p.bytes);
        const start = off + room;
        const n = buf.write(text, start, 'utf8');
        const headerLength = writeLengthHeader(buf, off, n);
        if (headerLength !== room) buf.copyWithin(off + headerLength, start, start + n);
        off += headerLength + n;
      }
    } else {
      off += writeLengthHeader(buf, off, p.bytes);
      const { values } = p;
      const encoded = p.constants;
      const texts = p.layout.constants;
      for (let i = 0; i <= values.length; i += 1) {
        if (encoded.ascii) off += buf.write(texts[i] as string, off, 'latin1');
        else {
          const c = encoded.buffers[i] as Buffer;
          buf.set(c, off);
          off += c.length;
        }
        if (i === values.length) break;
        const v = values[i] as string;
        if (p.ascii) {
          for (let k = 0; k < v.length; k += 1) buf[off + k] = v.charCodeAt(k);
          off += v.length;
        } else off += buf.write(v, off, 'utf8');
      }
    }
    buf[off++] = 0x0d;
    buf[off++] = 0x0a;
  }
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
