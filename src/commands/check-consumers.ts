/**
 * `beat check --consumers` (or `--broker URL`): before a deploy, asks the broker who consumes the
 * queues the config's entries publish to, as the leader's consumer check does (one `active_queues`
 * broadcast, the workers' answers taken for consumers.replyWindow, each queue's depth; on RabbitMQ
 * its own consumer counts), and names every queue nobody consumes now. Exit 1 when some queue has
 * no consumer, or when no worker answered on a broker that keeps no count (then nobody can be said
 * to consume anything). SQS is refused: one look cannot tell there.
 */
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { silentLogger } from '../base/log.js';
import { within } from '../base/within.js';
import { consumerCheckOf } from '../config/resolve.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { maskUrl } from '../config/redis-url.js';
import { openConsumerProbe } from '../publish/brokers.js';
import { scheduleQueues } from '../service/consumer-check.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';
import { renderTable, wrapLines } from './table.js';

/** How long the broker may take to accept the connection before the check gives up. */
const CONNECT_TIMEOUT_MS = 5000;

/** `columns`: the width the lines fit in (undefined: --wide, every line whole). */
export async function checkConsumers(
  config: ResolvedConfig,
  entries: readonly ResolvedEntry[],
  io: Io,
  columns: number | undefined,
): Promise<ExitCode> {
  const fit = (text: string): string => (columns === undefined ? text : wrapLines(text, columns));
  const broker = maskUrl(config.broker.url);
  const opened = openConsumerProbe(config, silentLogger);
  if (opened === undefined) {
    throw new BeatError(
      ErrorCode.BrokerUrl,
      `beat check --consumers: the broker ${broker} cannot tell who consumes its queues in one look (SQS keeps no consumer count; the leader flags a queue whose messages wait and none is taken for consumers.unconsumedAfter); watch the queues in the SQS console meanwhile`,
    );
  }
  const used = scheduleQueues(config, entries);
  const queues = [...used.keys()].sort();
  try {
    await within(opened.connect(), CONNECT_TIMEOUT_MS, () => {
      throw new Error(`no connection within ${CONNECT_TIMEOUT_MS / 1000} s`);
    });
    const look = await opened.probe.look(queues, io.now(), consumerCheckOf(config).replyWindowMs);
    io.out(
      renderTable(
        ['QUEUE', 'CONSUMERS', 'WAITING', 'ENTRIES'],
        look.queues.map((q) => [
          q.queue,
          q.consumers === undefined ? '?' : String(q.consumers),
          String(q.depth ?? '?'),
          String(used.get(q.queue)?.length ?? 0),
        ]),
        columns,
      ),
    );
    // RabbitMQ counts a queue's consumers itself; on Redis the workers' answers are all there is.
    if (look.workersAnswered === 0 && look.queues.some((q) => q.consumers === undefined)) {
      io.err(
        fit(
          `${broker}: no worker answered Celery's remote control (active_queues) within ${consumerCheckOf(config).replyWindowMs} ms: none runs, or they run without remote control; nothing can be said to consume the ${queues.length} queue${queues.length === 1 ? '' : 's'} above`,
        ),
      );
      return ExitCode.Failure;
    }
    const unconsumed = look.queues.filter((q) => q.consumers === 0);
    for (const q of unconsumed) {
      const n = used.get(q.queue)?.length ?? 0;
      io.err(
        fit(
          `no worker consumes queue ${q.queue} (${n} entr${n === 1 ? 'y publishes' : 'ies publish'} to it): start a worker with -Q ${q.queue}, or fix the entries' queue`,
        ),
      );
    }
    if (unconsumed.length > 0) return ExitCode.Failure;
    io.out(fit(`${broker}: every queue has a consumer (${look.workersAnswered} worker${look.workersAnswered === 1 ? '' : 's'} answered)`));
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof BeatError) throw error;
    throw new BeatError(ErrorCode.RedisUnavailable, `beat check --consumers: cannot ask the broker ${broker}: ${errorMessage(error)}`, {
      cause: error,
    });
  } finally {
    await opened.close();
  }
}
