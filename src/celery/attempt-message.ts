/**
 * A slot's later attempt (issue 70, core/retry.ts) as a message: the slot's own message rendered with
 * the attempt's task id (task-id.ts attemptTaskId), and two headers that name it, so that a worker,
 * its result backend and a log reader can tell a retry from the slot's first run:
 *   beat_attempt   the attempt's number (2 or more; the slot's own run carries none)
 *   beat_retry_of  the task id of the slot's own run (attempt 1)
 * Added last, after the custom headers; as any header, each is an attribute of the worker's task.request.
 */
import type { TaskMessage } from './message.js';

export const ATTEMPT_HEADER = 'beat_attempt';
export const RETRY_OF_HEADER = 'beat_retry_of';

/** `message` (rendered with the attempt's task id) with the attempt's headers; a canvas's other messages are left as they are. */
export function attemptMessage(message: TaskMessage, attempt: number, retryOf: string): TaskMessage {
  const headers = message.headersJson;
  // headersJson is a JSON object's text: the two fields go before its closing brace.
  const extra = `${JSON.stringify(ATTEMPT_HEADER)}:${attempt},${JSON.stringify(RETRY_OF_HEADER)}:${JSON.stringify(retryOf)}`;
  const headersJson = headers.trimEnd() === '{}' ? `{${extra}}` : `${headers.trimEnd().slice(0, -1)},${extra}}`;
  return {
    protocol: message.protocol,
    id: message.id,
    task: message.task,
    entry: message.entry,
    destination: message.destination,
    headersJson,
    properties: message.properties,
    body: message.body,
    bodyBase64: message.bodyBase64,
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
    template: message.template,
    ...(message.more === undefined ? {} : { more: message.more }),
    ...(message.chordSize === undefined ? {} : { chordSize: message.chordSize }),
  };
}
