/**
 * Task ids. A scheduled run gets a name-based id (UUID v5) so that the same (deployment, entry,
 * slot) published twice — by a retry, or by two replicas racing — carries the same id, and a worker
 * or result backend can recognise the duplicate. The deployment is part of the name: two
 * deployments on one broker may well have an entry of the same name due at the same slot, and
 * those are different runs (deduplicating by id, or one result key, must not merge them).
 * A manual trigger is not a slot: it gets a random id.
 *
 * The id can be recomputed anywhere, e.g. in Python:
 *
 *   uuid.uuid5(uuid.UUID('bd3166c1-dfde-4cc5-a1f7-98fa3cc11ff8'), f"{deployment}\n{entry_name}\n{slot_ms}")
 *
 * where `deployment` is the config's `name` and `slot_ms` the slot instant in integer epoch
 * milliseconds, written in decimal.
 */
import { hash, randomUUID } from 'node:crypto';
import { SPEEDUPS } from '../base/speedups.js';
import { sha1Words } from './sha1.js';

/**
 * tsbeat's namespace for slot ids, drawn at random once. Never change it: every id derived from it
 * would change, and a slot published before and after the change would no longer be recognised.
 */
export const SLOT_ID_NAMESPACE = 'bd3166c1-dfde-4cc5-a1f7-98fa3cc11ff8';

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new TypeError(`not a UUID: ${JSON.stringify(uuid)}`);
  return Buffer.from(hex, 'hex');
}

const HEX_CODES = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const digest = new Int32Array(5);
const codes: number[] = new Array<number>(36).fill(0x2d); // '-' at 8, 13, 18, 23 stays

/** Formats a SHA-1 digest as a version-5 UUID (RFC 9562 §5.5): the first 16 bytes, version and variant set. */
function formatV5(words: Int32Array): string {
  let at = 0;
  for (let byte = 0; byte < 16; byte += 1) {
    if (byte === 4 || byte === 6 || byte === 8 || byte === 10) at += 1;
    let v = ((words[byte >> 2] as number) >>> (24 - 8 * (byte & 3))) & 0xff;
    if (byte === 6) v = (v & 0x0f) | 0x50;
    else if (byte === 8) v = (v & 0x3f) | 0x80;
    codes[at] = HEX_CODES[v >> 4] as number;
    codes[at + 1] = HEX_CODES[v & 0x0f] as number;
    at += 2;
  }
  return String.fromCharCode(...codes);
}

let scratch = Buffer.alloc(512);

/** The SHA-1 of `buf[0, length)` as five words, by node:crypto or, as a speed-up, by sha1.ts. */
function sha1Of(buf: Buffer, length: number): Int32Array {
  if (SPEEDUPS.sha1) return sha1Words(buf, length, digest);
  const bytes = hash('sha1', buf.subarray(0, length), 'buffer');
  for (let i = 0; i < 5; i += 1) digest[i] = bytes.readInt32BE(4 * i);
  return digest;
}

function room(bytes: number): Buffer {
  if (scratch.length < bytes) scratch = Buffer.alloc(bytes * 2);
  return scratch;
}

function nameBasedId(namespace: Uint8Array, name: string): string {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit; the padding up to 72 more.
  const buf = room(16 + name.length * 3 + 72);
  buf.set(namespace, 0);
  const length = 16 + buf.write(name, 16, 'utf8');
  return formatV5(sha1Of(buf, length));
}

/** RFC 4122 / 9562 name-based UUID, version 5 (SHA-1), as Python's `uuid.uuid5`. */
export function uuidV5(namespace: string, name: string): string {
  return nameBasedId(uuidBytes(namespace), name);
}

const NAMESPACE_BYTES = uuidBytes(SLOT_ID_NAMESPACE);

/**
 * The part of an entry's slot ids that repeats: namespace + UTF-8 `deployment\nentry\n`. The
 * scheduler keeps one per entry (see `slotTaskId`'s last argument).
 */
export function slotIdPrefix(deployment: string, entryName: string): Buffer {
  return Buffer.concat([NAMESPACE_BYTES, Buffer.from(`${deployment}\n${entryName}\n`, 'utf8')]);
}

/**
 * The id of one scheduled run of an entry of a deployment. Neither deployment nor entry names can
 * contain control characters (the config schema refuses them), so the newlines make the split
 * unambiguous. `prefix`, when given, must be `slotIdPrefix(deployment, entryName)`: it saves
 * building it on every call.
 */
export function slotTaskId(deployment: string, entryName: string, slotMs: number, prefix?: Buffer): string {
  const slot = Math.floor(slotMs);
  if (slot < 0 || !Number.isSafeInteger(slot)) return nameBasedId(NAMESPACE_BYTES, `${deployment}\n${entryName}\n${slot}`);
  let buf: Buffer;
  let length: number;
  if (prefix === undefined) {
    // Written in place: an entry rendered once (RunRenderer keeps no template for it) needs no prefix of its own.
    const head = `${deployment}\n${entryName}\n`;
    buf = room(16 + head.length * 3 + 16 + 72);
    buf.set(NAMESPACE_BYTES, 0);
    length = 16 + buf.write(head, 16, 'utf8');
  } else {
    buf = room(prefix.length + 16 + 72);
    buf.set(prefix, 0);
    length = prefix.length;
  }
  // The slot's decimal digits, written by hand: this runs once per message published.
  let digits = 1;
  for (let rest = slot; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
  let rest = slot;
  for (let at = length + digits - 1; at >= length; at -= 1) {
    buf[at] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return formatV5(sha1Of(buf, length + digits));
}

/** A fresh random id (uuid4, lowercase, as kombu's `uuid()`), for manual triggers. */
export function randomTaskId(): string {
  return randomUUID();
}
