/**
 * The config file and the CLI: where a config is looked for, the limits on what a YAML document or
 * an entry may hold, and the definition shapes a reader of runtime entries keeps.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const CONFIG_DEFAULTS = {
  /**
   * How deep a runtime entry's args and kwargs may nest, and how large they may be (their JSON, in
   * bytes), unless the config's `entryLimits` says otherwise: measured without recursion before
   * anything else walks them, so that a hostile entry is refused, not run (a message is rendered on
   * the scheduler's loop at every run). A request body may nest entryMaxDepth + 4 levels (the bulk
   * PUT's name, the entry, its field).
   */
  entryMaxDepth: 32,
  entryMaxArgsBytes: 256 * 1024,
  /**
   * The most runtime entries the store may hold, and the most bytes of their names and definitions
   * (JSON), unless the config's `entryLimits` says otherwise: sized for the 512 Mi manifest, where a
   * replica holds every entry, its decoded definition and its schedule (~1 KiB each besides its
   * JSON). A write that would pass either is refused whole (entries-write.lua).
   */
  entryMaxEntries: 100_000,
  entryMaxStoreBytes: 32 * 1024 * 1024,
  /**
   * Most labels one entry carries. Each is copied into the entry's status row, its listing and (for
   * the keys `metricsLabelKeys` names) its series, so their number is bounded as their length is.
   */
  entryLabelsMax: 32,
  /**
   * A canvas (an entry's `chain` and the `link` / `linkError` callbacks of any of its signatures,
   * docs/canvas.md): at most this many signatures in all, and callbacks nested at most this deep (a
   * callback's own callbacks are one level down). The whole canvas is written into the body of every
   * run's message and unpacked by the worker; a runtime entry must not make either unbounded.
   */
  canvasMaxSignatures: 100,
  canvasMaxDepth: 4,
  /**
   * The longest task name and queue name, in characters: Celery's are dotted identifiers, and AMQP
   * caps a queue name at 255 bytes. Without a cap one entry's name could hold megabytes, copied
   * into every message, log line, metric label and status row.
   */
  taskNameMax: 256,
  queueNameMax: 256,
  /** The longest of an entry's other option strings (exchange, routingKey, shadow), in characters. */
  optionStringMax: 256,
  /** `beat next`: how many instants per entry. */
  nextCount: 5,
  /**
   * The columns the commands' tables and warnings fit in when neither $COLUMNS nor a terminal says
   * (output to a pipe or a file). 100 is a terminal split in two, or a laptop's at a readable size;
   * --wide gives every column for wider screens and for grep.
   */
  terminalColumns: 100,
  /** Folders searched for those names, relative to the working directory, in order. */
  configSearchDirs: ['.', 'schedules'] as readonly string[],
} as const;
