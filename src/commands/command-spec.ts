/**
 * One spec per command (name, summary, options with their help, positionals, subcommands, run),
 * from which the command line is made: the usage line, `--help`, the parent's list of commands,
 * parsing (node:util parseArgs, strict), and "did you mean" for an unknown command or option.
 * Nothing of a command's help is written apart from the option it describes.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { BeatError, ECHO_MAX_CHARS, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { closest } from '../base/did-you-mean.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export type ParsedCommandArgs<O extends OptionSpec> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: boolean }>
>;

function parseCommandArgs<O extends OptionSpec>(command: string, argv: string[], options: O, positionals = 0): ParsedCommandArgs<O> {
  let parsed: ParsedCommandArgs<O>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: positionals > 0 });
  } catch (error) {
    // Node quotes the offending option in single quotes; it is user text like any other.
    const why = errorMessage(error)
      .replace(/^TypeError \[[A-Z_]+\]: /, '')
      .replace(/'([^']*)'/g, (quoted, text: string) => (text.length > ECHO_MAX_CHARS ? shown(text) : quoted));
    const renamed = renamedOption(error, options);
    if (renamed !== undefined)
      throw new BeatError(
        ErrorCode.Usage,
        `beat ${command}: --${renamed.old} is spelt --${renamed.now}, as in every command that takes it. See 'beat ${command} --help'.`,
      );
    const hint = optionHint(error, options);
    throw new BeatError(ErrorCode.Usage, `beat ${command}: ${why}.${hint ? ` ${hint}` : ''} See 'beat ${command} --help'.`);
  }
  if (parsed.positionals.length > positionals) {
    throw new BeatError(
      ErrorCode.Usage,
      `beat ${command}: unexpected argument ${shown(parsed.positionals[positionals] ?? '')}. See 'beat ${command} --help'.`,
    );
  }
  return parsed;
}

/** Options once spelt otherwise by one command, each with the one spelling every command takes now. */
const RENAMED: Readonly<Record<string, string>> = { 'time-zone': 'timezone' };

/** An unknown option that is an old spelling of one the command takes. */
function renamedOption(error: unknown, options: OptionSpec): { old: string; now: string } | undefined {
  if ((error as { code?: unknown }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return undefined;
  const old = /^Unknown option '--([^'=]*)/.exec(errorMessage(error))?.[1];
  const now = old === undefined ? undefined : RENAMED[old];
  return old === undefined || now === undefined || !(now in options) ? undefined : { old, now };
}

/** For an unknown option, the closest one the command takes: `Did you mean "--count"?`. */
function optionHint(error: unknown, options: OptionSpec): string {
  if ((error as { code?: unknown }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return '';
  const given = /^Unknown option '(-{1,2}[^'=]*)/.exec(errorMessage(error))?.[1];
  if (given === undefined || !given.startsWith('--')) return '';
  const hint = closest(given.slice(2), Object.keys(options));
  return hint === undefined ? '' : `Did you mean "--${hint}"?`;
}

/** An option: how node:util parseArgs reads it, and how --help shows it. */
export interface OptionHelp {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** The value's name (PATH, URL, N…), for a string option. */
  readonly value?: string;
  /** What it does, as --help says it; more lines continue under the first. */
  readonly help: string;
  /** Shown without brackets in the usage line (the command checks it). */
  readonly required?: boolean;
}

export type OptionHelps = Readonly<Record<string, OptionHelp>>;

/** `-h, --help`, which every command takes. */
export const helpOption = { help: { type: 'boolean', short: 'h', help: 'show this help' } } as const satisfies OptionHelps;

export interface CommandSpec<O extends OptionHelps = OptionHelps> {
  /** The words after `beat`: 'check', 'entries list'. */
  readonly name: string;
  /**
   * One line, in its group's list (`beat entries --help`). A command of `beat` itself has its line in
   * `beat --help`'s list (src/commands/main.ts), which lists the commands without loading them.
   */
  readonly summary?: string;
  /** Its rows in the parent's list, where more than its name and summary (`list [--json]`, two forms of `set`). */
  readonly listed?: readonly { readonly label: string; readonly summary: string }[];
  /** The positionals as the usage line names them ('ENTRY', '[NAME]', 'NAME...'), and how many are taken (Infinity: any). */
  readonly positionals?: { readonly usage: string; readonly most: number };
  /** The usage line after `beat NAME`, where the generated one (positionals, then each option) cannot say it. */
  readonly usage?: string;
  /** The paragraphs between the usage line and the options. */
  readonly about: string;
  /** Without -h/--help, which is added. */
  readonly options: O;
  /** Sections after the options (examples, notes). */
  readonly after?: string;
  /** The column the options' help starts in (default 22), for a command whose flags are long. */
  readonly helpColumn?: number;
}

export interface LeafCommand<O extends OptionHelps = OptionHelps> extends CommandSpec<O> {
  run(args: ParsedCommandArgs<O & typeof helpOption>, io: Io): Promise<ExitCode>;
}

export interface GroupCommand {
  readonly name: string;
  /** The usage line after `beat NAME`. */
  readonly usage: string;
  readonly about: string;
  /** The heading of its list: 'Commands', or 'Sources' (`beat import`). */
  readonly heading: string;
  readonly commands: readonly Subcommand[];
  /** Paragraphs after the list. */
  readonly after?: string;
}

/** A leaf as a router holds it: its options' types are the spec's own business, checked where it is defined. */
type AnyLeaf = CommandSpec & { run(args: never, io: Io): Promise<ExitCode> };

export type Command = AnyLeaf | GroupCommand;

/** A command of a group, with its line in the group's list. */
export type Subcommand = Command & { readonly summary: string };

/**
 * A command of `beat` itself, as `beat --help` lists it: its module is loaded only when it runs,
 * so that a command loads what it uses and no other command's libraries (a start is mostly loading).
 */
export interface ListedCommand {
  readonly name: string;
  /** Its line in `beat --help`. */
  readonly summary: string;
  load(): Promise<Command>;
}

/** A leaf command, its `run` typed by its options; the router sees it as any leaf (a subcommand when it has a summary). */
export function leaf<O extends OptionHelps>(spec: LeafCommand<O> & { readonly summary: string }): Subcommand;
export function leaf<O extends OptionHelps>(spec: LeafCommand<O>): Command;
export function leaf<O extends OptionHelps>(spec: LeafCommand<O>): Command {
  return spec;
}

const HELP_COLUMN = 22;

/** The option's flags as --help lists them: `  -c, --config PATH`. */
function optionFlags(name: string, option: OptionHelp): string {
  const value = option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : '';
  return `${option.short === undefined ? '    ' : `-${option.short}, `}--${name}${value}`;
}

/** The Options section: each option's flags, its help in one column, a long flag's help on the next line. */
export function optionLines(options: OptionHelps, column = HELP_COLUMN): string {
  const indent = ' '.repeat(column);
  return Object.entries(options)
    .map(([name, option]) => {
      const flags = `  ${optionFlags(name, option)}`;
      const [first = '', ...more] = option.help.split('\n');
      const head = flags.length <= column - 2 ? `${flags.padEnd(column)}${first}` : `${flags}\n${indent}${first}`;
      return [head, ...more.map((line) => `${indent}${line.trimStart()}`)].join('\n');
    })
    .join('\n');
}

/** The usage line after `beat NAME`: the positionals, then each option ([--x V] unless required). */
function usageTail(spec: CommandSpec): string {
  if (spec.usage !== undefined) return spec.usage;
  const parts = spec.positionals === undefined ? [] : [spec.positionals.usage];
  for (const [name, option] of Object.entries(spec.options)) {
    const flag = `--${name}${option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : ''}`;
    parts.push(option.required === true ? flag : `[${flag}]`);
  }
  return parts.join(' ');
}

function isGroup(command: Command): command is GroupCommand {
  return 'commands' in command;
}

function lastWord(name: string): string {
  return name.slice(name.lastIndexOf(' ') + 1);
}

/** A command's --help. */
export function helpOf(command: Command): string {
  if (isGroup(command)) {
    const rows = command.commands.flatMap((c) => (isGroup(c) ? undefined : c.listed) ?? [{ label: lastWord(c.name), summary: c.summary }]);
    const width = rows.reduce((most, { label }) => Math.max(most, label.length), 0) + 2;
    const list = rows.map(({ label, summary }) => `  ${label.padEnd(width)}${summary}`).join('\n');
    const after = command.after === undefined ? '' : `\n${command.after}`;
    return `Usage: beat ${command.name} ${command.usage}\n\n${command.about}\n${command.heading}:\n${list}\n${after}`;
  }
  const spec = command;
  const after = spec.after === undefined ? '' : `\n${spec.after}`;
  return `Usage: beat ${spec.name} ${usageTail(spec)}\n\n${spec.about}\nOptions:\n${optionLines({ ...spec.options, ...helpOption }, spec.helpColumn)}\n${after}`;
}

/** What parseArgs is given: the types, shorts and multiples of the spec's options. */
function parseOptions(options: OptionHelps): Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, { type, short, multiple }] of Object.entries<OptionHelp>({ ...options, ...helpOption })) {
    out[name] = { type, ...(short === undefined ? {} : { short }), ...(multiple === undefined ? {} : { multiple }) };
  }
  return out;
}

/**
 * Runs `command` on `argv`: a group routes by its first word (its help without one, exit 2; an
 * unknown word exits 2 with the closest command); a leaf parses its options (an unknown one exits 2
 * with the closest option), answers --help, and runs.
 */
export async function runCommand(command: Command, argv: readonly string[], io: Io): Promise<ExitCode> {
  if (isGroup(command)) {
    const [word, ...rest] = argv;
    if (word === undefined || word === '-h' || word === '--help') {
      io.out(helpOf(command));
      return word === undefined ? ExitCode.BadInput : ExitCode.Ok;
    }
    const names = command.commands.map((c) => lastWord(c.name));
    const sub = command.commands.find((c) => lastWord(c.name) === word);
    if (sub === undefined) {
      const hint = closest(word, names);
      throw new BeatError(
        ErrorCode.Usage,
        `beat ${command.name}: unknown ${command.heading === 'Sources' ? 'source' : 'command'} ${shown(word)}${hint ? `; did you mean "${hint}"?` : ''}; ${command.heading.toLowerCase()}: ${names.join(', ')}. See 'beat ${command.name} --help'.`,
      );
    }
    return runCommand(sub, rest, io);
  }
  const spec = command;
  const parsed = parseCommandArgs(spec.name, [...argv], parseOptions(spec.options), spec.positionals?.most ?? 0);
  if (parsed.values.help === true) {
    io.out(helpOf(command));
    return ExitCode.Ok;
  }
  return spec.run(parsed as never, io);
}
