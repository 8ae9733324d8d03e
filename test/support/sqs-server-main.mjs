#!/usr/bin/env node
/**
 * A local SQS server for the tests: npm's local-aws-sqs on a loopback port, behind a thin wrapper.
 * kombu 5.2's worker receives by POSTing an AWS query form to the queue's own URL path
 * (`/123456789012/celery`) with no `QueueUrl` in the form, and local-aws-sqs finds the queue only
 * from `QueueUrl`: the wrapper adds it from the path when it is missing. Everything else goes
 * through untouched. Nothing is kept on disk: a restart starts with the queues named on the
 * command line, empty.
 *
 *   node sqs-server-main.mjs PORT [QUEUE ...]      (a name ending in .fifo makes a FIFO queue)
 *
 * Prints `listening PORT` once it accepts connections.
 *
 * One gap of local-aws-sqs is closed here: it forgets a FIFO message's deduplication id once the
 * message is deleted, where SQS keeps it for 5 minutes from the send ("Exactly-once processing in
 * Amazon SQS", SQS Developer Guide) and accepts a repeat without delivering it. The wrapper keeps
 * the ids of SendMessageBatch's FIFO entries (the JSON protocol, the one tsbeat's SDK speaks) for 5
 * minutes, answers a repeat as SQS does (success, the first send's MessageId, not delivered), and
 * prints `deduplicated ID` for each.
 *
 * With SQS_SERVER_LOG_SENDS=1 (bench/sqs-burst.mjs) each SendMessageBatch that SQS answered is
 * printed as `sent N EPOCH_MS`: N messages taken, at that time of the server's clock.
 *
 * With SQS_SERVER_LOG_AUTH=1 each request's signer is printed as `auth ACTION ACCESS_KEY_ID REGION
 * TOKEN` (from its SigV4 Authorization header's credential scope, and its X-Amz-Security-Token or
 * `-`): the server checks no signature, so this is how a test sees which credentials and region
 * tsbeat signed with.
 *
 * For crash tests, `POST /__hold?ms=N` arms a hold: the next SendMessage or SendMessageBatch is
 * carried out (its messages are on the queue) but its reply waits N ms, and `held` is printed when
 * it starts waiting, so a test can kill the sender between the send and its reply.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { createRequestHandler } from 'local-aws-sqs';

const port = Number(process.argv[2]);
const queues = process.argv
  .slice(3)
  .map((name) => (name.endsWith('.fifo') ? { QueueName: name, Attributes: { FifoQueue: 'true' } } : { QueueName: name }));
const { requestHandler } = createRequestHandler({ port, hostname: '127.0.0.1', queues, emulateQueueCreationLifecycle: false });

let holdMs = 0;
const logSends = process.env.SQS_SERVER_LOG_SENDS === '1';
const logAuth = process.env.SQS_SERVER_LOG_AUTH === '1';
const DEDUP_WINDOW_MS = 5 * 60_000;
/** `queue\nMessageDeduplicationId` → the first send: its time, MessageId and SequenceNumber. */
const sent = new Map();

/** A SendMessageBatch (JSON) to a FIFO queue: drops the entries SQS would deduplicate, and answers for them as SQS does. */
function deduplicate(body, res) {
  const request = JSON.parse(body.toString('utf8'));
  const queue =
    String(request.QueueUrl ?? '')
      .split('/')
      .pop() ?? '';
  if (!queue.endsWith('.fifo')) return body;
  const now = Date.now();
  const repeats = [];
  const fresh = [];
  for (const entry of request.Entries ?? []) {
    const first = sent.get(`${queue}\n${entry.MessageDeduplicationId}`);
    if (first !== undefined && now - first.at < DEDUP_WINDOW_MS) {
      process.stdout.write(`deduplicated ${entry.MessageDeduplicationId}\n`);
      repeats.push({
        Id: entry.Id,
        MessageId: first.MessageId,
        MD5OfMessageBody: createHash('md5').update(entry.MessageBody, 'utf8').digest('hex'),
        SequenceNumber: first.SequenceNumber,
      });
    } else fresh.push(entry);
  }
  const dedupOf = new Map(fresh.map((e) => [e.Id, e.MessageDeduplicationId]));
  const answer = (reply) => {
    for (const ok of reply.Successful ?? []) {
      const id = dedupOf.get(ok.Id);
      if (id !== undefined) sent.set(`${queue}\n${id}`, { at: now, MessageId: ok.MessageId, SequenceNumber: ok.SequenceNumber });
    }
    return JSON.stringify({ ...reply, Successful: [...(reply.Successful ?? []), ...repeats] });
  };
  if (fresh.length === 0) {
    res.setHeader('content-type', 'application/x-amz-json-1.0');
    res.end(answer({ Successful: [], Failed: [] }));
    return undefined;
  }
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    if (res.statusCode !== 200 || chunk === undefined) return end(chunk, ...rest);
    return end(answer(JSON.parse(String(chunk))), ...rest);
  };
  return Buffer.from(JSON.stringify({ ...request, Entries: fresh }));
}

const server = createServer((req, res) => {
  if (req.url?.startsWith('/__hold?')) {
    holdMs = Number(new URL(req.url, 'http://x').searchParams.get('ms'));
    res.end('armed');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    const path = (req.url ?? '/').split('?')[0];
    const form = String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    if (form && path !== '/' && !new URLSearchParams(body.toString('utf8')).has('QueueUrl')) {
      const url = `http://127.0.0.1:${port}${path}`;
      body = Buffer.concat([body, Buffer.from(`${body.length > 0 ? '&' : ''}QueueUrl=${encodeURIComponent(url)}`)]);
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    if (logAuth) {
      const scope = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ''));
      const action = target.split('.').pop() || new URLSearchParams(body.toString('utf8')).get('Action') || '?';
      process.stdout.write(`auth ${action} ${scope?.[1] ?? '-'} ${scope?.[2] ?? '-'} ${req.headers['x-amz-security-token'] ?? '-'}\n`);
    }
    // Held first, deduplication recorded around it: the id counts from the send, not from the late reply.
    if (holdMs > 0 && /\.SendMessage(Batch)?$/.test(target)) {
      const ms = holdMs;
      holdMs = 0;
      const end = res.end.bind(res);
      res.end = (...args) => {
        process.stdout.write('held\n');
        setTimeout(() => end(...args), ms);
        return res;
      };
    }
    if (target === 'AmazonSQS.SendMessageBatch') {
      const rest = deduplicate(body, res);
      if (rest === undefined) return;
      body = rest;
    }
    if (logSends && target === 'AmazonSQS.SendMessageBatch') {
      const end = res.end.bind(res);
      res.end = (chunk, ...rest) => {
        const taken = res.statusCode === 200 && chunk !== undefined ? (JSON.parse(String(chunk)).Successful ?? []).length : 0;
        process.stdout.write(`sent ${taken} ${Date.now()}\n`);
        return end(chunk, ...rest);
      };
    }
    const replay = Readable.from(body.length > 0 ? [body] : []);
    Object.assign(replay, { headers: { ...req.headers, 'content-length': String(body.length) }, method: req.method, url: req.url });
    requestHandler(replay, res);
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
