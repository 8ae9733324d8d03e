/**
 * Delivery tags: a random UUID (version 4) per envelope, as kombu's `uuid()`, from the same source
 * as node:crypto's `randomUUID` (randomFillSync, drawn ahead in a pool as it does). Written as one
 * string from its character codes: `randomUUID` joins 36 one-character pieces per call, ~550 bytes
 * of garbage per envelope, the largest allocation of a burst's run.
 */
import { randomFillSync } from 'node:crypto';

/** Random bytes drawn at once: 256 tags. */
const pool = Buffer.alloc(16 * 256);
let next = pool.length;

const HEX_CODES = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const codes: number[] = new Array<number>(36).fill(0x2d); // '-' at 8, 13, 18, 23 stays

/** A fresh random UUID, lowercase (RFC 9562 §5.4: version 4, variant 10). */
export function randomDeliveryTag(): string {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  let at = 0;
  for (let byte = 0; byte < 16; byte += 1) {
    if (byte === 4 || byte === 6 || byte === 8 || byte === 10) at += 1;
    let v = pool[next + byte] as number;
    if (byte === 6) v = (v & 0x0f) | 0x40;
    else if (byte === 8) v = (v & 0x3f) | 0x80;
    codes[at] = HEX_CODES[v >> 4] as number;
    codes[at + 1] = HEX_CODES[v & 0x0f] as number;
    at += 2;
  }
  next += 16;
  return String.fromCharCode(...codes);
}
