/**
 * Label selectors (`team=billing,tier!=batch`, `env in (prod,staging)`, `!legacy`): the one parser
 * every command, the API and the dashboard use to pick entries by their labels. Syntax and meaning
 * are Kubernetes' (apimachinery `labels.Parse`): requirements separated by commas, all of which must
 * hold; `=`/`==` and `in (…)` need the label present with one of the values; `!=` and `notin (…)`
 * hold when it is absent or has another value; `key` needs it present, `!key` absent. Keys and
 * values follow the label rules (labels.ts). Kubernetes' numeric `>`/`<` is not taken (labels here
 * are names, not numbers): it is refused with the alternatives. Pure.
 */
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { labelKeyProblem, labelValueProblem } from './labels.js';
import type { Labels } from './labels.js';

export type SelectorOperator = 'in' | 'notin' | 'exists' | '!exists';

/** One requirement: `=` and `==` are `in` with one value, `!=` is `notin` with one. */
export interface SelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: readonly string[];
}

/** A parsed selector: its requirements (none: selects every entry) and the text it was read from. */
export interface LabelSelector {
  readonly text: string;
  readonly requirements: readonly SelectorRequirement[];
}

/** Why a selector cannot be read: the message and the 1-based character position it points at. */
export interface SelectorProblem {
  readonly message: string;
  readonly position: number;
}

export type SelectorParse =
  { readonly ok: true; readonly selector: LabelSelector } | { readonly ok: false; readonly problem: SelectorProblem };

type TokenKind = 'identifier' | 'in' | 'notin' | '!' | '!=' | '=' | '==' | '(' | ')' | ',' | '<' | '>' | 'end';

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** 0-based offset into the selector's text. */
  readonly at: number;
}

const SYMBOLS = new Set(['!', '(', ')', ',', '=', '<', '>']);
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';

/** Kubernetes' lexer: symbols, and identifiers running to the next space or symbol ("in" and "notin" are keywords). */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (isSpace(c)) {
      i += 1;
      continue;
    }
    if (SYMBOLS.has(c)) {
      const two = text.slice(i, i + 2);
      if (two === '!=' || two === '==') {
        tokens.push({ kind: two, text: two, at: i });
        i += 2;
      } else {
        tokens.push({ kind: c as TokenKind, text: c, at: i });
        i += 1;
      }
      continue;
    }
    const start = i;
    while (i < text.length && !isSpace(text.charAt(i)) && !SYMBOLS.has(text.charAt(i))) i += 1;
    const word = text.slice(start, i);
    tokens.push({ kind: word === 'in' || word === 'notin' ? word : 'identifier', text: word, at: start });
  }
  tokens.push({ kind: 'end', text: '', at: text.length });
  return tokens;
}

class SelectorError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

const shownToken = (t: Token): string => (t.kind === 'end' ? 'the end' : `"${t.text}"`);

class Parser {
  private index = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  private peek(): Token {
    return this.tokens[this.index] ?? { kind: 'end', text: '', at: 0 };
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index += 1;
    return token;
  }

  selector(): SelectorRequirement[] {
    const requirements: SelectorRequirement[] = [];
    if (this.peek().kind === 'end') return requirements;
    for (;;) {
      requirements.push(this.requirement());
      const after = this.next();
      if (after.kind === 'end') return requirements;
      if (after.kind !== ',') throw new SelectorError(`found ${shownToken(after)}, expected "," between requirements or the end`, after.at);
    }
  }

  private key(): Token {
    const token = this.next();
    if (token.kind !== 'identifier') {
      const hint = token.kind === 'in' || token.kind === 'notin' ? ` ("${token.text}" is an operator)` : '';
      throw new SelectorError(`found ${shownToken(token)}, expected a label key${hint}`, token.at);
    }
    const problem = labelKeyProblem(token.text);
    if (problem !== undefined) throw new SelectorError(`"${token.text}": ${problem}`, token.at);
    return token;
  }

  private value(): string {
    const token = this.peek();
    // `key=` (nothing before the comma or the end) is the empty value, as in Kubernetes.
    if (token.kind === ',' || token.kind === 'end' || token.kind === ')') return '';
    this.next();
    if (token.kind !== 'identifier') throw new SelectorError(`found ${shownToken(token)}, expected a label value`, token.at);
    const problem = labelValueProblem(token.text);
    if (problem !== undefined) throw new SelectorError(`"${token.text}": ${problem}`, token.at);
    return token.text;
  }

  private values(): string[] {
    const open = this.next();
    if (open.kind !== '(') throw new SelectorError(`found ${shownToken(open)}, expected "(" and a list of values`, open.at);
    const values: string[] = [];
    for (;;) {
      values.push(this.value());
      const after = this.next();
      if (after.kind === ')') return values;
      if (after.kind !== ',') throw new SelectorError(`found ${shownToken(after)}, expected "," or ")" in the list of values`, after.at);
    }
  }

  private requirement(): SelectorRequirement {
    if (this.peek().kind === '!') {
      this.next();
      const key = this.key();
      const after = this.peek();
      if (after.kind !== ',' && after.kind !== 'end')
        throw new SelectorError(`found ${shownToken(after)}, expected "," or the end after "!${key.text}" (it takes no value)`, after.at);
      return { key: key.text, operator: '!exists', values: [] };
    }
    const key = this.key();
    const op = this.peek();
    switch (op.kind) {
      case ',':
      case 'end':
        return { key: key.text, operator: 'exists', values: [] };
      case '=':
      case '==':
        this.next();
        return { key: key.text, operator: 'in', values: [this.value()] };
      case '!=':
        this.next();
        return { key: key.text, operator: 'notin', values: [this.value()] };
      case 'in':
      case 'notin':
        this.next();
        return { key: key.text, operator: op.kind, values: this.values() };
      case '<':
      case '>':
        throw new SelectorError(`"${op.text}" is not taken (labels are compared as text): use =, !=, in (…) or notin (…)`, op.at);
      default:
        throw new SelectorError(`found ${shownToken(op)}, expected an operator (=, ==, !=, in, notin), "," or the end`, op.at);
    }
  }
}

/** Reads a selector; an empty (or blank) text selects every entry. */
export function parseSelector(text: string): SelectorParse {
  try {
    const requirements = new Parser(tokenize(text)).selector();
    return { ok: true, selector: { text: text.trim(), requirements } };
  } catch (error) {
    if (error instanceof SelectorError) return { ok: false, problem: { message: error.message, position: error.at + 1 } };
    throw error;
  }
}

/** A problem as every place that refuses a selector words it, after naming the selector: where, then what. */
export function selectorProblemText(problem: SelectorProblem): string {
  return `at character ${problem.position}: ${problem.message}`;
}

/** Whether labels (undefined: none) satisfy every requirement of `selector`. */
export function selects(selector: LabelSelector, labels: Labels | undefined): boolean {
  for (const { key, operator, values } of selector.requirements) {
    const has = labels !== undefined && Object.hasOwn(labels, key);
    const value = has ? labels[key] : undefined;
    switch (operator) {
      case 'exists':
        if (!has) return false;
        break;
      case '!exists':
        if (has) return false;
        break;
      case 'in':
        if (value === undefined || !values.includes(value)) return false;
        break;
      case 'notin':
        if (value !== undefined && values.includes(value)) return false;
        break;
    }
  }
  return true;
}

/** A selector's text, parsed; one that does not parse is a BeatError (USAGE, or the door's `code`) naming the character. */
export function selectorOrThrow(text: string, code: ErrorCode = ErrorCode.Usage): LabelSelector {
  const parsed = parseSelector(text);
  if (parsed.ok) return parsed.selector;
  throw new BeatError(code, `selector ${shown(text)}: ${selectorProblemText(parsed.problem)}`);
}
