/**
 * The version-5 UUID (RFC 9562 §5.5) of some bytes: their SHA-1's first 16 bytes with the version
 * (5) and variant (0b10) set, as Python's `uuid.uuid5` makes it of a namespace's bytes and a name's.
 * Written on the hex digest (no Buffer made for it: slot ids are made once per message published).
 */
import { hash } from 'node:crypto';

const HEX = '0123456789abcdef';

export function uuidV5OfBytes(bytes: Uint8Array): string {
  const h = hash('sha1', bytes, 'hex');
  const variant = HEX[(parseInt(h.charAt(16), 16) & 0x3) | 0x8] as string;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
