/**
 * The ConsumerProbe (ports/consumers.ts) on Amazon SQS. SQS keeps no consumer count and kombu's SQS
 * transport has no remote control (no fanout), so a look reads each queue's counts alone
 * (GetQueueAttributes): ApproximateNumberOfMessages as its depth, and
 * ApproximateNumberOfMessagesNotVisible as the messages in flight (received by a worker, not yet
 * deleted). control/consumer-watch.ts judges them over the looks: a depth that stays up with
 * nothing in flight is a queue nobody takes from; one that falls, empties or has messages in
 * flight is read.
 *
 * Queues are named as a send names them (kombu's `canonical_queue_name`); one outside
 * `predefinedQueues`, where those are set, is never sent to and is reported with nothing known.
 */
import type { TransportOptionsInput } from '../config/options-schema.js';
import type { ConsumerLook, ConsumerProbe } from '../ports/consumers.js';
import { canonicalQueueName, sqsPlanSettings } from './message.js';
import type { SqsTransport } from './transport.js';

export function sqsConsumerProbe(broker: Pick<SqsTransport, 'queueCounts'>, transportOptions: TransportOptionsInput): ConsumerProbe {
  const settings = sqsPlanSettings(transportOptions);
  return {
    async look(queues): Promise<ConsumerLook> {
      return {
        queues: await Promise.all(
          queues.map(async (queue) => {
            const sqsQueue = canonicalQueueName(queue, settings.queueNamePrefix);
            if (settings.predefined !== undefined && !settings.predefined.has(sqsQueue)) return { queue };
            const { waiting, inFlight } = await broker.queueCounts(sqsQueue);
            return { queue, depth: waiting, inFlight };
          }),
        ),
      };
    },
  };
}
