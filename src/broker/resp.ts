/**
 * RESP encoding of `LPUSH key payload…`, written straight into a recycled Buffer. Publishing is
 * bound by client-side work: ioredis measures each argument (Buffer.byteLength), concatenates a
 * command as a string and encodes it again on write; a 1 KB envelope laid out as a flat string
 * costs more than copying its bytes; and fresh memory is expensive (first touch of a page costs
 * microseconds on a VM). Here each envelope is written once, as bytes, into a buffer that is
 * reused once its command is answered. See bench/redis-publish.mjs for the effect.
 */

import { EnvelopePush, envelopeLayout, envelopeSlotValue } from './redis-envelope.js';
import type { EnvelopeLayout, EnvelopeSlot } from './redis-envelope.js';
import type { RedisPush } from './redis-plan.js';

/** `$` + up to 10 digits + CRLF: room for the longest length header. */
const HEADER_ROOM = 13;

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

/** A payload ready to write: the layout's encoded constants with this envelope's values, or a string. */
type Prepared = { readonly constants: readonly Buffer[]; readonly values: readonly string[]; readonly bytes: number } | { readonly text: string; readonly bytes: number };

/** Each layout's constant text as UTF-8, and its total length in bytes. */
const constantBytes = new WeakMap<EnvelopeLayout, { readonly buffers: readonly Buffer[]; readonly total: number }>();

function prepare(push: RedisPush): Prepared {
  if (push instanceof EnvelopePush && !push.built) {
    const layout = envelopeLayout(push.message, push.exchange, push.routingKey);
    if (layout !== undefined) {
      let encoded = constantBytes.get(layout);
      if (encoded === undefined) {
        const buffers = layout.constants.map((c) => Buffer.from(c, 'utf8'));
        encoded = { buffers, total: buffers.reduce((sum, b) => sum + b.length, 0) };
        constantBytes.set(layout, encoded);
      }
      const constants = encoded.buffers;
      let bytes = encoded.total;
      // Slot values are ASCII by construction (quoteJson, base64, our times): length = bytes.
      const values = new Array<string>(layout.slots.length);
      for (let i = 0; i < values.length; i += 1) {
        const v = envelopeSlotValue(push.message, layout.slots[i] as EnvelopeSlot, push.deliveryTag);
        values[i] = v;
        bytes += v.length;
      }
      return { constants, values, bytes };
    }
  }
  const text = push.payload;
  // Sized for the worst case (3 UTF-8 bytes per UTF-16 code unit); the real length is known once written.
  return { text, bytes: text.length * 3 };
}

/**
 * Writes `*<n>\r\n$5\r\nLPUSH\r\n$<k>\r\n<key>\r\n$<p1>\r\n<p1>\r\n…` into a buffer from
 * `acquire` and returns the written part (a view of that buffer) with the buffer itself. One reply:
 * the list length. An envelope whose text was never built is written from its layout: encoded
 * constants and ASCII values copied in, no string made.
 */
export function encodeLpush(key: string, pushes: readonly RedisPush[], acquire: (bytes: number) => Buffer): { readonly buffer: Buffer; readonly command: Buffer } {
  const prepared = pushes.map(prepare);
  let capacity = 64 + key.length * 3;
  for (const p of prepared) capacity += p.bytes + HEADER_ROOM + 2;
  const buf = acquire(capacity);
  let off = buf.write(`*${pushes.length + 2}\r\n$5\r\nLPUSH\r\n`, 0, 'latin1');
  off += writeLengthHeader(buf, off, Buffer.byteLength(key));
  off += buf.write(key, off, 'utf8');
  buf[off++] = 0x0d;
  buf[off++] = 0x0a;
  for (const p of prepared) {
    if ('text' in p) {
      // The byte length is known only once written: write the payload after room for the header of
      // the longest possible length, then the header; move the payload back if the header is shorter.
      const room = 3 + digitCount(p.bytes);
      const start = off + room;
      const n = buf.write(p.text, start, 'utf8');
      const headerLength = writeLengthHeader(buf, off, n);
      if (headerLength !== room) buf.copyWithin(off + headerLength, start, start + n);
      off += headerLength + n;
    } else {
      off += writeLengthHeader(buf, off, p.bytes);
      const { constants, values } = p;
      for (let i = 0; i < values.length; i += 1) {
        const c = constants[i] as Buffer;
        buf.set(c, off);
        off += c.length;
        const v = values[i] as string;
        for (let k = 0; k < v.length; k += 1) buf[off + k] = v.charCodeAt(k);
        off += v.length;
      }
      const last = constants[values.length] as Buffer;
      buf.set(last, off);
      off += last.length;
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
