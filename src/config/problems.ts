/**
 * Turns zod's issues into problems an operator can act on: a readable path, the bad value and what
 * is allowed. Our own schema messages already say that; zod's generic ones are rephrased here.
 */
import type * as z from 'zod';
import { ECHO_MAX_CHARS, clipQuoted, shown } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

export function formatPath(path: readonly PathKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && key.length <= ECHO_MAX_CHARS && IDENTIFIER.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${shown(String(key))}]`;
  }
  return out;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${shown(value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function echo(value: unknown): string {
  return typeof value === 'string' ? shown(value) : String(value);
}

/** zod's default messages start like this; ours never do. */
function isGeneric(message: string): boolean {
  return /^(Invalid input|Too (big|small)|Invalid option|Invalid key|Invalid string|Invalid element|Invalid)/.test(message);
}

function rephrase(issue: Issue): string {
  if (!isGeneric(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `is required (expected ${article(issue.expected)})`
        : `expected ${article(issue.expected)}, got ${describeValue(issue.input)}`;
    case 'too_big':
      return `${issue.input !== undefined ? `${echo(issue.input)} ` : ''}is too large; the most allowed is ${String(issue.maximum)}`;
    case 'too_small':
      return `${issue.input !== undefined && typeof issue.input !== 'object' ? `${echo(issue.input)} ` : ''}is too small; the least allowed is ${String(issue.minimum)}`;
    case 'invalid_value':
      return `${describeValue(issue.input)} is not allowed; expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return issue.message;
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/**
 * A union reports one list of issues per alternative. The alternative the user meant is the one
 * that got past the type check at the union's own level; report its issues. If none did, keep the
 * union's own message, which lists the forms allowed.
 */
function expandUnion(issue: Issue & { code: 'invalid_union' }): Issue[] {
  const attempts = issue.errors.filter(
    (branch) => !branch.every((inner) => (inner.code === 'invalid_type' || inner.code === 'invalid_value') && inner.path.length === 0),
  );
  if (attempts.length === 1 && attempts[0]) {
    return attempts[0].map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }));
  }
  return [issue];
}

/** Finds the source line of a path, for formats that keep positions (YAML). */
export type LineLocator = (path: readonly PathKey[]) => number | undefined;

export function toProblems(issues: readonly Issue[], locate?: LineLocator): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  const visit = (issue: Issue): void => {
    if (issue.code === 'invalid_union') {
      const expanded = expandUnion(issue);
      if (expanded.length !== 1 || expanded[0] !== issue) {
        expanded.forEach(visit);
        return;
      }
    }
    if (issue.code === 'invalid_key' && issue.issues.length > 0) {
      for (const inner of issue.issues) push(issue.path, `key ${shown(String(issue.path.at(-1)))}: ${rephrase(inner)}`);
      return;
    }
    if (issue.code === 'unrecognized_keys') {
      // One problem per unknown key, at the key's own path; the message already holds the hint.
      const messages = issue.message.split('\n');
      issue.keys.forEach((key, i) => push([...issue.path, key], messages[i] ?? `unknown key ${shown(key)}`));
      return;
    }
    push(issue.path, rephrase(issue));
  };
  const push = (path: readonly PathKey[], text: string): void => {
    const message = clipQuoted(text);
    const line = locate?.(path);
    const problem: ConfigProblem = line === undefined ? { path: formatPath(path), message } : { path: formatPath(path), message, line };
    const id = `${problem.path}\u0000${message}`;
    if (!seen.has(id)) {
      seen.add(id);
      problems.push(problem);
    }
  };
  issues.forEach(visit);
  return problems;
}
