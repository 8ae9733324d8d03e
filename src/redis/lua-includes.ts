/**
 * Assembles a Lua script from its file and the fragments it includes, bullmq's convention: a line
 * `--- @include "<name>"` is replaced by the fragment `lua/includes/<name>.lua`, itself assembled
 * the same way (fragments may include fragments). Each fragment goes in once per script, at its
 * first include (later ones become empty), so a fragment's locals are defined before the code that
 * follows its first include uses them. A missing fragment or a cycle is an error naming the chain.
 */
import { BeatError, ErrorCode } from '../base/errors.js';

const INCLUDE = /^---[ \t]*@include[ \t]+"([\w.-]+)"[ \t]*$/gm;

/** Reads a fragment's text by name, or undefined when there is none. */
export type FragmentReader = (name: string) => string | undefined;

/** `text` (the script `name`) with its includes in place, recursively, each fragment once. */
export function assembleLua(name: string, text: string, readFragment: FragmentReader): string {
  return expand(name, text, readFragment, new Set(), [name]);
}

function expand(name: string, text: string, readFragment: FragmentReader, included: Set<string>, chain: readonly string[]): string {
  return text.replace(INCLUDE, (_line, fragment: string) => {
    if (chain.includes(fragment)) {
      throw new BeatError(
        ErrorCode.LuaScriptInvalid,
        `Lua script ${chain[0]}: the includes form a cycle: ${[...chain, fragment].join(' → ')}`,
      );
    }
    if (included.has(fragment)) return '';
    const body = readFragment(fragment);
    if (body === undefined) {
      throw new BeatError(
        ErrorCode.LuaScriptInvalid,
        `Lua script ${chain[0]}: ${name} includes "${fragment}", but there is no fragment lua/includes/${fragment}.lua (${[...chain, fragment].join(' → ')})`,
      );
    }
    included.add(fragment);
    return expand(fragment, body, readFragment, included, [...chain, fragment]);
  });
}
