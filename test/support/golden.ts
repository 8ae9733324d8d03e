/**
 * Compares a message Python's `celery beat` pushed with the one tsbeat pushed for the same entry:
 * envelope, header and property key sets, and every value except ids, times, `origin`,
 * `reply_to` and `delivery_tag`. Returns the differences as readable lines (none = equal).
 */
import { isDeepStrictEqual } from 'node:util';

export interface Envelope {
  readonly body: string;
  readonly headers: Record<string, unknown>;
  readonly properties: Record<string, unknown>;
  readonly [key: string]: unknown;
}

/** Values that legitimately differ between two sends: ids and the sender's identity. */
const IGNORED_HEADERS = new Set(['id', 'root_id', 'origin']);
const TIME_HEADERS = new Set(['eta', 'expires']);
const IGNORED_PROPERTIES = new Set(['correlation_id', 'reply_to', 'delivery_tag']);
export const OUR_TIME_FORMAT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;

const sorted = (keys: Iterable<string>): string[] => [...keys].sort();
const show = (v: unknown): string => JSON.stringify(v);

export function compareWithBeat(python: Envelope, ours: Envelope, allowedExtraHeaders: readonly string[], maxClockGapMs: number): string[] {
  const diffs: string[] = [];
  if (!isDeepStrictEqual(sorted(Object.keys(python)), sorted(Object.keys(ours)))) {
    diffs.push(`envelope keys: python ${show(sorted(Object.keys(python)))} vs ours ${show(sorted(Object.keys(ours)))}`);
  }
  for (const key of ['content-type', 'content-encoding']) {
    if (python[key] !== ours[key]) diffs.push(`${key}: python ${show(python[key])} vs ours ${show(ours[key])}`);
  }
  const decode = (e: Envelope): unknown => JSON.parse(Buffer.from(e.body, 'base64').toString('utf8'));
  if (!isDeepStrictEqual(decode(python), decode(ours))) diffs.push(`body: python ${show(decode(python))} vs ours ${show(decode(ours))}`);

  const extra = sorted(Object.keys(ours.headers).filter((k) => !(k in python.headers)));
  if (!isDeepStrictEqual(extra, sorted(allowedExtraHeaders)))
    diffs.push(`extra header keys: ${show(extra)}, expected exactly ${show(sorted(allowedExtraHeaders))}`);
  for (const [key, value] of Object.entries(python.headers)) {
    if (!(key in ours.headers)) diffs.push(`header ${key} missing from ours`);
    else if (TIME_HEADERS.has(key)) diffs.push(...compareTimes(`header ${key}`, value, ours.headers[key], maxClockGapMs));
    else if (!IGNORED_HEADERS.has(key) && !isDeepStrictEqual(value, ours.headers[key]))
      diffs.push(`header ${key}: python ${show(value)} vs ours ${show(ours.headers[key])}`);
  }

  if (!isDeepStrictEqual(sorted(Object.keys(python.properties)), sorted(Object.keys(ours.properties)))) {
    diffs.push(
      `property keys: python ${show(sorted(Object.keys(python.properties)))} vs ours ${show(sorted(Object.keys(ours.properties)))}`,
    );
  }
  for (const [key, value] of Object.entries(python.properties)) {
    if (!IGNORED_PROPERTIES.has(key) && !isDeepStrictEqual(value, ours.properties[key]))
      diffs.push(`property ${key}: python ${show(value)} vs ours ${show(ours.properties[key])}`);
  }
  return diffs;
}

/** Times may differ by when each side sent; both must be set or both null, and ours in the safe format. */
function compareTimes(what: string, python: unknown, ours: unknown, maxGapMs: number): string[] {
  if (python === null || ours === null) return python === ours ? [] : [`${what}: python ${show(python)} vs ours ${show(ours)}`];
  if (typeof ours !== 'string' || !OUR_TIME_FORMAT.test(ours))
    return [`${what}: ours ${show(ours)} is not YYYY-MM-DDTHH:MM:SS.ffffff+00:00`];
  const gap = Math.abs(Date.parse(String(python)) - Date.parse(ours));
  return Number.isNaN(gap) || gap > maxGapMs ? [`${what}: python ${show(python)} and ours ${show(ours)} are ${gap} ms apart`] : [];
}
