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
