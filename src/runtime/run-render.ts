/**
 * Turns an entry's slot into the run handed to a dispatcher: its Celery message, rendered from the
 * entry's template with the slot's task id. Templates are compiled on an entry's first run or ahead
 * of it (warm-up), not at start: most of a large schedule is idle most of the time.
 */
import { compileMessageTemplate, renderTaskMessage } from '../celery/message.js';
import type { MessageEnv, MessageTemplate } from '../celery/message.js';
import { MessageShapes } from '../celery/message-shape.js';
import { slotIdPrefix, slotTaskId } from '../celery/task-id.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { DispatchSpeedups, DueRun } from '../ports/dispatcher.js';

interface Compiled {
  readonly template: MessageTemplate;
  /** slotIdPrefix of the entry, made with the template. */
  readonly idPrefix: Buffer;
}

export class RunRenderer {
  private readonly compiled = new Map<ResolvedEntry, Compiled>();
  /** Entries of one task, options and monitor share a shape: a burst of a million tenants' runs compiles a few. */
  private readonly shapes: MessageShapes;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly messageEnv: MessageEnv,
    /** Told of each template as it is compiled (DispatchSpeedups.prepare), when the dispatcher offers it. */
    private readonly speedups: DispatchSpeedups | undefined,
  ) {
    this.shapes = new MessageShapes(config, messageEnv);
  }

  isCompiled(entry: ResolvedEntry): boolean {
    return this.compiled.has(entry);
  }

  /** Drops the compiled template of an entry that changed or left the book. */
  forget(entry: ResolvedEntry): void {
    this.compiled.delete(entry);
  }

  /** Compiles the entry's template if it is not yet; throws what compiling throws. */
  compile(entry: ResolvedEntry): Compiled {
    let compiled = this.compiled.get(entry);
    if (compiled === undefined) {
      compiled = {
        template: compileMessageTemplate(entry, this.config, this.messageEnv, this.shapes),
        idPrefix: slotIdPrefix(this.config.name, entry.name),
      };
      this.compiled.set(entry, compiled);
      this.speedups?.prepare(compiled.template);
    }
    return compiled;
  }

  /** The run of `entry` at `slotMs`, rendered at `nowMs`. */
  render(entry: ResolvedEntry, slotMs: number, nowMs: number): DueRun {
    const { template, idPrefix } = this.compile(entry);
    const message = renderTaskMessage(template, { taskId: slotTaskId(this.config.name, entry.name, slotMs, idPrefix), slotMs, nowMs });
    return { entry, slotMs, message };
  }

  /** A run rendered ahead of its instant (staged, rehearsed), or undefined if it cannot be: its real run will report why. */
  tryRender(entry: ResolvedEntry, slotMs: number, nowMs: number): DueRun | undefined {
    try {
      return this.render(entry, slotMs, nowMs);
    } catch {
      return undefined;
    }
  }
}
