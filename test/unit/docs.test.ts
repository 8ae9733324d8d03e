/**
 * The manual stays true to the code (issue 32): README.md is the door and docs/ the manual, so what they
 * say is checked here, against the files and against the command line itself rather than a list kept
 * beside them.
 *
 * - Every relative link in README.md, docs/**\/*.md and bench/RESULTS.md resolves: the file exists, and an
 *   #anchor names a heading of it (GitHub's slugs, duplicates numbered as GitHub numbers them).
 * - Every YAML and JSON block of the manual passes `beat check`, and so does every TypeScript block that is a
 *   config module (one with an `export default`). A block that is not a whole config (an
 *   entry alone, a source that needs a database) is marked on the line before it with
 *   `<!-- fragment: why -->`, and the reason is part of the test's title; a block that needs an
 *   environment variable, as its text says, names it with `<!-- check: NAME=value -->`.
 * - Every `beat <command>` the manual names in code is a command of `beat --help` (and `beat entries X`,
 *   `beat import X` one of those commands' own lists).
 * - Every `node dist/cli.js …` an example file's comment tells to try runs, in order, with exit 0.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtCli, repoRoot, runCli, spawnCli } from '../support/cli.js';

/** The pages checked: the door, the manual, and the benchmarks' page it links to. */
function pages(): string[] {
  const docs = (dir: string): string[] =>
    readdirSync(join(repoRoot, dir), { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? docs(join(dir, d.name)) : d.name.endsWith('.md') ? [join(dir, d.name)] : [],
    );
  return ['README.md', ...docs('docs'), join('bench', 'RESULTS.md')];
}

interface Block {
  lang: string;
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The HTML comment on the last non-blank line before the fence, if any. */
  marker: string | undefined;
}

/** Splits a Markdown text into its fenced code blocks and the prose between them (code blanked out). */
function parseMarkdown(text: string): { prose: string; blocks: Block[] } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  const prose: string[] = [];
  let open: { fence: string; lang: string; line: number; body: string[]; marker: string | undefined } | undefined;
  let lastNonBlank = '';
  lines.forEach((line, i) => {
    const fence = /^\s*(`{3,}|~{3,})\s*([\w+-]*)/.exec(line);
    if (open === undefined && fence !== null) {
      const marker = /^<!--\s*(.*?)\s*-->$/.exec(lastNonBlank.trim())?.[1];
      open = { fence: fence[1] as string, lang: (fence[2] ?? '').toLowerCase(), line: i + 1, body: [], marker };
      prose.push('');
    } else if (open !== undefined && line.trim().startsWith(open.fence) && line.trim().replace(/[`~]/g, '') === '') {
      blocks.push({ lang: open.lang, text: open.body.join('\n'), line: open.line, marker: open.marker });
      open = undefined;
      prose.push('');
    } else if (open !== undefined) {
      // Indented blocks (inside a list item) lose the item's indentation.
      open.body.push(line);
      prose.push('');
    } else {
      prose.push(line);
    }
    if (line.trim() !== '') lastNonBlank = line;
  });
  if (open !== undefined) blocks.push({ lang: open.lang, text: open.body.join('\n'), line: open.line, marker: open.marker });
  return { prose: prose.join('\n'), blocks };
}

/** GitHub's anchor for a heading's text (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link reads as its text
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase();
  return rendered.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** The anchors a page offers: each heading's slug, repeated ones numbered -1, -2… as GitHub does. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of parseMarkdown(text).prose.split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const base = slug(heading[1] as string);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1] as string);
  return anchors;
}

/** The relative links of a page's prose (inline code left out): [text](target) and ![alt](target). */
function linksOf(text: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  parseMarkdown(text)
    .prose.split('\n')
    .forEach((line, i) => {
      const withoutCode = line.replace(/`[^`]*`/g, (m) => ' '.repeat(m.length));
      for (const m of withoutCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        const target = m[1] as string;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        out.push({ target, line: i + 1 });
      }
      const reference = /^\s*\[[^\]]+\]:\s*(\S+)/.exec(withoutCode);
      if (reference !== null && !/^[a-z][a-z0-9+.-]*:/i.test(reference[1] as string))
        out.push({ target: reference[1] as string, line: i + 1 });
    });
  return out;
}

/** Every link of `page` (a path under root) that does not resolve, as "page:line: target: why". */
function brokenLinks(root: string, page: string): string[] {
  const text = readFileSync(join(root, page), 'utf8');
  const problems: string[] = [];
  for (const { target, line } of linksOf(text)) {
    const [pathPart = '', anchor] = target.split('#', 2) as [string, string | undefined];
    const file = pathPart === '' ? join(root, page) : resolve(dirname(join(root, page)), decodeURIComponent(pathPart));
    const where = `${page}:${line}: ${target}`;
    if (relative(root, file).startsWith('..')) {
      problems.push(`${where}: leaves the repository`);
      continue;
    }
    let isFile: boolean;
    try {
      isFile = statSync(file).isFile();
    } catch {
      problems.push(`${where}: no such file`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!isFile || !file.endsWith('.md')) {
      problems.push(`${where}: an anchor into something that is not a Markdown file`);
      continue;
    }
    if (!anchorsOf(readFileSync(file, 'utf8')).has(anchor)) problems.push(`${where}: no heading with that anchor`);
  }
  return problems;
}

/** Languages of blocks whose lines are commands or their output; YAML and the rest hold prose in comments. */
const SHELL_BLOCKS = new Set(['', 'sh', 'bash', 'shell', 'console', 'text']);

/** Each `beat <command> [<word>]` a page names in its code: inline spans, and shell blocks. */
function commandsNamed(text: string): { command: string; sub: string | undefined }[] {
  const { blocks, prose } = parseMarkdown(text);
  const code = [
    ...[...prose.matchAll(/`[^`\n]+`/g)].map((m) => m[0]),
    ...blocks.filter((b) => SHELL_BLOCKS.has(b.lang)).map((b) => b.text),
  ];
  // `celery beat …` is Python's beat, and `beat.fire` a log event: neither is one of ours.
  return code.flatMap((snippet) =>
    [...snippet.matchAll(/(?<![\w./-])(?<!celery )beat ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/g)].map((m) => ({
      command: m[1] as string,
      sub: m[2],
    })),
  );
}

describe('the link checker itself', () => {
  const root = mkdtempSync(join(tmpdir(), 'tsbeat-docs-links-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('makes GitHub’s anchors: code, punctuation and links dropped, repeats numbered', () => {
    expect(slug('Migrating in: `beat import`')).toBe('migrating-in-beat-import');
    expect(slug("Django: django-celery-beat's tables")).toBe('django-django-celery-beats-tables');
    expect(slug('RabbitMQ (AMQP 0-9-1)')).toBe('rabbitmq-amqp-0-9-1');
    expect(slug('Amazon SQS (issue 35): a burst of 10,000 to a local SQS server')).toBe(
      'amazon-sqs-issue-35-a-burst-of-10000-to-a-local-sqs-server',
    );
    expect([...anchorsOf('# A\n\n## Notes\n\n```\n# not a heading\n```\n\n## Notes\n')]).toEqual(['a', 'notes', 'notes-1']);
  });

  it('names a missing file, a missing anchor and a link out of the repository, and takes what resolves', () => {
    writeFileSync(join(root, 'a.md'), '# Page A\n\n## The part\n');
    writeFileSync(
      join(root, 'b.md'),
      [
        '# B',
        '[ok](a.md) [ok](a.md#the-part) [ok](#b) [web](https://example.com/x.md#nowhere) `[code](nowhere.md)`',
        '[gone](c.md) [no anchor](a.md#the-whole) [self](#nothing) [out](../x.md)',
        '```',
        '[in a block](nowhere.md)',
        '```',
      ].join('\n'),
    );
    expect(brokenLinks(root, 'b.md')).toEqual([
      'b.md:3: c.md: no such file',
      'b.md:3: a.md#the-whole: no heading with that anchor',
      'b.md:3: #nothing: no heading with that anchor',
      'b.md:3: ../x.md: leaves the repository',
    ]);
  });
  it("finds the commands a page names in code, and not Python's beat, log events or YAML comments", () => {
    const page = [
      'Run `beat frobnicate --x` or `beat entries set NAME`; `celery beat -S django` and `beat.fire` are not ours.',
      '```sh',
      'beat run --config c.yaml && beat import crontab /etc/crontab',
      '```',
      '```yaml',
      'x: 1   # as the Python beat named it',
      '```',
    ].join('\n');
    expect(commandsNamed(page)).toEqual([
      { command: 'frobnicate', sub: undefined },
      { command: 'entries', sub: 'set' },
      { command: 'run', sub: undefined },
      { command: 'import', sub: 'crontab' },
    ]);
  });
});

describe('README.md and docs/', () => {
  const all = pages();

  it('are the door and the manual: a README of at most 300 lines, and the pages it maps', () => {
    expect(all.length).toBeGreaterThan(10);
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
    for (const page of all.filter((p) => p.startsWith('docs'))) expect(readme, page).toContain(`](${page.replace(/\\/g, '/')}`);
  });

  it("pin one Node for version managers (.nvmrc, .node-version), within package.json's engines and the image's, say how to get it, and reason about no Node below engines", () => {
    const read = (file: string): string => readFileSync(join(repoRoot, file), 'utf8');
    const pins = ['.nvmrc', '.node-version'].map((file) => (existsSync(join(repoRoot, file)) ? read(file).trim() : `no ${file}`));
    expect(pins).toEqual([pins[0], pins[0]]);
    const pinned = Number(pins[0]);
    const floor = /^>=(\d+)\.\d+$/.exec((JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node)?.[1];
    expect(pinned).toBeGreaterThanOrEqual(Number(floor));
    expect(read('Dockerfile')).toContain(`ARG NODE_IMAGE=node:${pinned}-`);
    const readme = read('README.md');
    for (const how of ['.nvmrc', 'nvm install', 'fnm use', 'volta install', 'nodejs.org/dist/']) expect(readme).toContain(how);
    // A page that weighs a choice against a Node tsbeat no longer runs on is out of date.
    const below = all.flatMap((page) =>
      [...read(page).matchAll(/\bNode(?:\.js)? (\d+)\b/g)].filter((m) => Number(m[1]) < Number(floor)).map((m) => `${page}: ${m[0]}`),
    );
    expect(below).toEqual([]);
  });

  it('run the commands examples/ tell to try (a comment line `node dist/cli.js …`), in order, as written', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'tsbeat-docs-examples-'));
    try {
      const files = readdirSync(join(repoRoot, 'examples'), { withFileTypes: true }).filter((f) => f.isFile());
      const commands = files.flatMap(({ name: file }) =>
        [...readFileSync(join(repoRoot, 'examples', file), 'utf8').matchAll(/^\s*(?:#|\/\/)\s+node dist\/cli\.js (.+)$/gm)].map((m) => ({
          file,
          // Their /tmp/ files in a directory of this run's own.
          argv: (m[1] as string).replaceAll('/tmp/', `${scratch}/`).split(/\s+/),
        })),
      );
      expect(commands.length).toBeGreaterThan(0);
      for (const { file, argv } of commands) {
        const r = spawnCli(argv);
        expect(r.code, `examples/${file}: node dist/cli.js ${argv.join(' ')}\n${r.stderr}`).toBe(0);
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it.each(all)('every relative link of %s resolves, file and #anchor', (page) => {
    expect(brokenLinks(repoRoot, page)).toEqual([]);
  });

  describe('every YAML, JSON and TypeScript config block passes `beat check`', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbeat-docs-configs-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const blocks = all.flatMap((page) =>
      parseMarkdown(readFileSync(join(repoRoot, page), 'utf8'))
        .blocks.filter((b) => ['yaml', 'yml', 'json'].includes(b.lang) || (b.lang === 'ts' && /^export default /m.test(b.text)))
        .map((b) => ({ page, ...b })),
    );

    it('finds the blocks (the manual has config examples to check)', () => {
      expect(blocks.length).toBeGreaterThan(5);
    });

    const fragments = blocks.filter((b) => b.marker?.startsWith('fragment'));
    const configs = blocks.filter((b) => !b.marker?.startsWith('fragment'));

    it.each(configs.map((b) => [`${b.page}:${b.line}`, b] as const))('%s passes beat check', async (where, block) => {
      const env: Record<string, string> = {};
      if (block.marker !== undefined) {
        const check = /^check:\s*(.*)$/.exec(block.marker);
        expect(check, `${where}: the marker before a config block is "fragment: why" or "check: NAME=value"`).not.toBeNull();
        for (const pair of (check?.[1] ?? '').split(/\s+/).filter(Boolean)) {
          const [name, ...value] = pair.split('=');
          env[name as string] = value.join('=');
        }
      }
      const extension = { json: 'json', ts: 'ts' }[block.lang] ?? 'yaml';
      const file = join(dir, `${where.replace(/[^\w]+/g, '-')}.${extension}`);
      // The indentation of a block inside a list item is the item's, not the config's.
      const indent = Math.min(
        ...block.text
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => /^ */.exec(l)?.[0].length ?? 0),
      );
      writeFileSync(
        file,
        block.text
          .split('\n')
          .map((l) => l.slice(indent))
          .join('\n'),
      );
      // A TypeScript config imports 'tsbeat', which the built binary resolves to its own bundle as a user's
      // installation does; in-process it would transpile every module of src/ first (~15 s).
      if (block.lang === 'ts') expect(existsSync(builtCli), `${builtCli}: run npm run build (npm test does) to check TS blocks`).toBe(true);
      const result =
        block.lang === 'ts' ? spawnCli(['check', '--config', file], { env }) : await runCli(['check', '--config', file], { env });
      expect(result.stderr, where).toBe('');
      expect(result.code, where).toBe(0);
    });

    it.each(fragments.map((b) => [`${b.page}:${b.line}`, b.marker?.replace(/^fragment:?\s*/, '') ?? ''] as const))(
      '%s is a fragment, not checked: %s',
      (where, why) => {
        expect(why.length, `${where}: say why the block is not a whole config (<!-- fragment: why -->)`).toBeGreaterThan(10);
      },
    );
  });

  it('name only commands that beat --help lists', async () => {
    const listed = (help: string, heading: string): string[] =>
      (help.split(`${heading}:\n`)[1]?.split('\n\n')[0]?.split('\n') ?? []).map((row) => row.trim().split(/\s+/)[0] as string);
    const main = (await runCli(['--help'])).stdout;
    const commands = listed(main, 'Commands');
    // `beat help <command>` is the main help's own advice, not a command of the list.
    if (main.includes("'beat help <command>'")) commands.push('help');
    const subcommands: Record<string, string[]> = {
      entries: listed((await runCli(['entries', '--help'])).stdout, 'Commands'),
      import: listed((await runCli(['import', '--help'])).stdout, 'Sources'),
    };
    expect(commands).toContain('run');
    expect(subcommands['entries']).toContain('export');
    expect(subcommands['import']).toContain('django');
    // Names that read as `beat <word>` in code and are not commands, each with why.
    const notCommands: Record<string, string> = {
      publish: 'the OpenTelemetry span name `beat publish <entry>` (docs/outcomes.md, Tracing)',
      partitions:
        "tsbeat 0.2.x's command, named as the way back for a deployment that ran with partitions (retired in 0.3.0: CHANGELOG.md), and in bench/RESULTS.md's history",
    };

    const unknown: string[] = [];
    let named = 0;
    for (const page of all) {
      for (const { command, sub } of commandsNamed(readFileSync(join(repoRoot, page), 'utf8'))) {
        if (command in notCommands) continue;
        named += 1;
        if (!commands.includes(command)) unknown.push(`${page}: beat ${command}`);
        else if (sub !== undefined && command in subcommands && !subcommands[command]?.includes(sub))
          unknown.push(`${page}: beat ${command} ${sub}`);
      }
    }
    expect(named).toBeGreaterThan(50);
    expect([...new Set(unknown)]).toEqual([]);
  });
});
