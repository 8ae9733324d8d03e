/** JSON text helpers for the render path, where every nanosecond is paid once per message. */

const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const NON_ASCII = /[\u0080-\uffff]/g;

/**
 * `JSON.stringify(s)` for a string, always pure ASCII (non-ASCII escaped as `\uXXXX`, as Python's
 * `json.dumps` does by default). Ids and times are printable ASCII without quotes or backslashes,
 * which need no escaping, so they skip the serializer. Transports rely on the ASCII: a value's
 * length is its byte length.
 */
export function quoteJson(s: string): string {
  if (PLAIN_ASCII.test(s)) return `"${s}"`;
  return JSON.stringify(s).replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
