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
 */
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { createRequestHandler } from 'local-aws-sqs';

const port = Number(process.argv[2]);
const queues = process.argv
  .slice(3)
  .map((name) => (name.endsWith('.fifo') ? { QueueName: name, Attributes: { FifoQueue: 'true' } } : { QueueName: name }));
const { requestHandler } = createRequestHandler({ port, hostname: '127.0.0.1', queues, emulateQueueCreationLifecycle: false });

const server = createServer((req, res) => {
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
    const replay = Readable.from(body.length > 0 ? [body] : []);
    Object.assign(replay, { headers: req.headers, method: req.method, url: req.url });
    requestHandler(replay, res);
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
