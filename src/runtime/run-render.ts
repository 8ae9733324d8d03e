/**
 * Turns an entry's slot into the run handed to a dispatcher: its Celery message, rendered from the
 * entry's template with the slot's task id. Templates are compiled on an entry's first run or ahead
 * of it (warm-up), not at start: most of a large schedule is idle most of the time. At most
 * DEFAULTS.templatesKept are kept at once (TemplateRoom); an
 * entry rendered beyond them gets a template of its own for that run only, which dies with the
 * run's batch.
 */
import { compileMessageTemplate, renderTaskMessage } from '../celery/message.js';
import type { MessageEnv, MessageTemplate } from '../celery/message.js';
import { MessageShapes } from '../celery/message-shape.js';
import { slotIdPrefix, slotTaskId } from '../celery/task-id.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { DispatchSpeedups, DueRun } from '../ports/dispatcher.js';
import { TemplateRoom } from './process-budget.js';

interface Compiled {
  readonly template: MessageTemplate;
  /** slotIdPrefix of the entry, made with a template that is kept (one rendered once goes without). */
  readonly idPrefix: Buffer | undefined;
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
    /** Most templates kept at once (see hasRoom; process-budget.ts). */
    private readonly room: TemplateRoom = new TemplateRoom(),
  ) {
    this.shapes = new MessageShapes(config, messageEnv);
  }

  isCompiled(entry: ResolvedEntry): boolean {
    return this.compiled.has(entry);
  }

  /** Drops the compiled template of an entry that changed or left the book. */
  forget(entry: ResolvedEntry): void {
    if (this.compiled.delete(entry)) this.room.add(-1);
  }

  /** Lets every template go (the runner stopped). */
  forgetAll(): void {
    this.room.add(-this.compiled.size);
    this.compiled.clear();
  }

  /** Whether a template compiled now would be kept (the room is not full). */
  hasRoom(): boolean {
    return this.room.hasRoom();
  }

  /**
   * The entry's template, compiled if it is not yet, and kept if there is room (see hasRoom);
   * throws what compiling throws. A burst of a million first runs kept every template until its
   * runs were recorded: ~630 MB of heap, which young-generation collections copied and promoted
   * and old-generation ones marked, for templates used once.
   */
  compile(entry: ResolvedEntry): Compiled {
    return this.compiled.get(entry) ?? this.compileNew(entry, true);
  }

  /** A new template of the entry, kept when `keep` and there is room. */
  private compileNew(entry: ResolvedEntry, keep: boolean): Compiled {
    const template = compileMessageTemplate(entry, this.config, this.messageEnv, this.shapes);
    this.speedups?.prepare(template);
    if (!keep || !this.hasRoom()) return { template, idPrefix: undefined };
    const compiled = { template, idPrefix: slotIdPrefix(this.config.name, entry.name) };
    this.compiled.set(entry, compiled);
    this.room.add(1);
    return compiled;
  }

  /**
   * The run of `entry` at `slotMs`, rendered at `nowMs`. An entry whose template is not compiled
   * keeps the one made for this run only when `keep` (it is due again soon): kept until its run
   * was recorded, the template of each run of a burst outlived a few young-generation collections
   * and was promoted, to die in the old generation (~800 B a run at 1,000,000).
   */
  render(entry: ResolvedEntry, slotMs: number, nowMs: number, keep = true): DueRun {
    const { template, idPrefix } = this.compiled.get(entry) ?? this.compileNew(entry, keep);
    const message = renderTaskMessage(template, { taskId: slotTaskId(this.config.name, entry.name, slotMs, idPrefix), slotMs, nowMs });
    return { entry, slotMs, message };
  }
}
