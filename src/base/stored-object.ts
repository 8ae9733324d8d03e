/**
 * The first step of every decoder of a value tsbeat keeps in Redis as JSON (run records, notes,
 * replica records, backfill requests, failures, …): the object the text holds, or undefined when it
 * is not JSON or not an object. Any key may hold anything (another program, a person with
 * redis-cli), so a decoder takes nothing more from this and checks each field it reads itself.
 */
export function storedObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
