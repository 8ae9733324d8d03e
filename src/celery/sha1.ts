/**
 * SHA-1 for the short inputs of name-based task ids (RFC 3174). node:crypto costs about 1.8 µs per
 * call in binding and context set-up alone, the most expensive step of rendering a message; this
 * does a one- or two-block input in a fraction of that. Not for anything secret: UUID v5 uses
 * SHA-1 as a fingerprint. Checked against node:crypto in test/unit/celery-message.test.ts.
 */

const W = new Int32Array(80);

/** Blocks needed for `length` bytes, padding included; `bytes` must have room for `blocks * 64`. */
export function sha1Blocks(length: number): number {
  return ((length + 8) >> 6) + 1;
}

const rotl = (x: number, n: number): number => (x << n) | (x >>> (32 - n));

/**
 * The digest of `bytes[0, length)` as five big-endian 32-bit words. Pads in place: `bytes` must be
 * at least `sha1Blocks(length) * 64` long, and everything after `length` is overwritten.
 */
export function sha1Words(bytes: Uint8Array, length: number, out: Int32Array = new Int32Array(5)): Int32Array {
  const size = sha1Blocks(length) * 64;
  if (bytes.length < size) throw new RangeError(`sha1Words needs ${size} bytes of room, got ${bytes.length}`);
  bytes.fill(0, length, size);
  bytes[length] = 0x80;
  // Message length in bits, big-endian, in the last bytes (inputs here are far below 2^32 bits).
  const bits = length * 8;
  bytes[size - 4] = bits >>> 24;
  bytes[size - 3] = (bits >>> 16) & 0xff;
  bytes[size - 2] = (bits >>> 8) & 0xff;
  bytes[size - 1] = bits & 0xff;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let o = 0; o < size; o += 64) {
    for (let i = 0; i < 16; i += 1) {
      const at = o + 4 * i;
      W[i] =
        ((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number);
    }
    for (let i = 16; i < 80; i += 1)
      W[i] = rotl((W[i - 3] as number) ^ (W[i - 8] as number) ^ (W[i - 14] as number) ^ (W[i - 16] as number), 1);
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    // Four loops without a branch per round: each quarter has its own function and constant.
    for (let i = 0; i < 20; i += 1) {
      const t = (rotl(a, 5) + ((b & c) | (~b & d)) + e + 0x5a827999 + (W[i] as number)) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    for (let i = 20; i < 40; i += 1) {
      const t = (rotl(a, 5) + (b ^ c ^ d) + e + 0x6ed9eba1 + (W[i] as number)) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    for (let i = 40; i < 60; i += 1) {
      const t = (rotl(a, 5) + ((b & c) | (b & d) | (c & d)) + e + (0x8f1bbcdc | 0) + (W[i] as number)) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    for (let i = 60; i < 80; i += 1) {
      const t = (rotl(a, 5) + (b ^ c ^ d) + e + (0xca62c1d6 | 0) + (W[i] as number)) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  out[0] = h0;
  out[1] = h1;
  out[2] = h2;
  out[3] = h3;
  out[4] = h4;
  return out;
}
