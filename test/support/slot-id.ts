/**
 * The task id tsbeat gives a slot, computed here from its definition (RFC 9562 §5.5, Python's
 * uuid.uuid5), not by tsbeat's code: uuid5(SLOT_ID_NAMESPACE, "deployment\nentry\nslot").
 */
import { createHash } from 'node:crypto';

export function slotId(deployment: string, entry: string, slotMs: number): string {
  const namespace = Buffer.from('bd3166c1dfde4cc5a1f798fa3cc11ff8', 'hex');
  const hash = createHash('sha1').update(namespace).update(`${deployment}\n${entry}\n${slotMs}`).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
