/** How the server's routes answer: JSON or text, never cached (a schedule's state is always read afresh). */

const JSON_TYPE = 'application/json; charset=utf-8';

/** A JSON answer, never cached. */
export function reply(status: number, value: unknown, headers: Record<string, string> = {}, body = `${JSON.stringify(value)}\n`): Response {
  return new Response(status === 204 ? null : body, {
    status,
    headers: { 'content-type': JSON_TYPE, 'cache-control': 'no-store', ...headers },
  });
}

/** A text answer (or bytes) of `type`, never cached. */
export function plain(status: number, type: string, body: string | Uint8Array<ArrayBuffer>): Response {
  return new Response(body, { status, headers: { 'content-type': type, 'cache-control': 'no-store' } });
}
