/**
 * Entry names that would pass for another (issue 66), refused where a name is written — a config
 * file, a runtime entry's put, an entries file, the owner a plan or an apply writes on its entries —
 * and not where one is read or deleted: an entry
 * stored before this rule stays listed, run and deletable under its name. Unicode's advice for
 * identifiers (UTS #39, Unicode Security Mechanisms):
 *
 * - no Default_Ignorable_Code_Point (left out of §3.1's identifier profile): characters no font
 *   shows, such as U+034F COMBINING GRAPHEME JOINER, U+3164 HANGUL FILLER or a variation selector,
 *   would make `night\u034fly` a second name printed as `nightly`. The format characters among
 *   them (Cf) are name-text.ts's, refused wherever a name is read too;
 * - scripts mixed no more than "moderately restrictive" allows (§5.2): one script, Common and
 *   Inherited characters (digits, punctuation, emoji, combining marks) going with any; or Latin
 *   with Han and Hiragana/Katakana, with Han and Bopomofo or with Han and Hangul; or Latin with one
 *   other script recommended for identifiers but Cyrillic and Greek, whose letters are Latin's
 *   lookalikes (`nightlу` with a Cyrillic у printed as `nightly`).
 *
 * - written as NFKC writes it (§3.1's profile restricts the characters that are not, Not_NFKC): a
 *   decomposed `cafe\u0301` prints as `café`, a fullwidth `ｎｉｇｈｔｌｙ` or a mathematical `𝐧ightly`
 *   as `nightly`, each another name to tsbeat;
 * - digits of one decimal system (§5.3, mixed-number detection): `job1\u0662` (an Arabic-Indic
 *   two) prints much as `job12`.
 *
 * A name wholly in one script that looks like one in another (Cyrillic `соре` for `cope`) passes:
 * telling those apart takes Unicode's confusables data, which tsbeat does not carry.
 */
import type * as z from 'zod';
import { characterName, entryNameSchema } from './name-text.js';

/**
 * Every script of Unicode 17 but Common and Inherited, as ISO 15924 codes: a character's scripts are
 * those of its Script_Extensions (U+30FC, the prolonged sound mark, is Hiragana and Katakana).
 * test/unit/name-text.test.ts checks that every assigned character has one or is Common or Inherited.
 */
export const SCRIPTS = (
  'Latn Cyrl Grek Arab Hebr Hani Hira Kana Hang Bopo Deva Beng Guru Gujr Orya Taml Telu Knda Mlym Sinh Thai ' +
  'Laoo Tibt Mymr Geor Armn Ethi Khmr Thaa Adlm Aghb Ahom Armi Avst Bali Bamu Bass Batk Berf Bhks Brah Brai Bugi ' +
  'Buhd Cakm Cans Cari Cham Cher Chrs Copt Cpmn Cprt Diak Dogr Dsrt Dupl Egyp Elba Elym Gara Glag Gong Gonm Goth ' +
  'Gran Gukh Hano Hatr Hluw Hmng Hmnp Hung Ital Java Kali Kawi Khar Khoj Kits Krai Kthi Lana Lepc Limb Lina Linb ' +
  'Lisu Lyci Lydi Mahj Maka Mand Mani Marc Medf Mend Merc Mero Modi Mong Mroo Mtei Mult Nagm Nand Narb Nbat Newa ' +
  'Nkoo Nshu Ogam Olck Onao Orkh Osge Osma Ougr Palm Pauc Perm Phag Phli Phlp Phnx Plrd Prti Rjng Rohg Runr Samr ' +
  'Sarb Saur Sgnw Shaw Shrd Sidd Sidt Sind Sogd Sogo Sora Soyo Sund Sunu Sylo Syrc Tagb Takr Tale Talu Tang Tavt ' +
  'Tayo Tfng Tglg Tirh Tnsa Todr Tols Toto Tutg Ugar Vaii Vith Wara Wcho Xpeo Xsux Yezi Yiii Zanb'
).split(' ');

/** §5.1's augmented script sets: Han, Hiragana and Katakana are also Japanese, and so on. */
const ALSO: Readonly<Record<string, readonly string[]>> = {
  Hani: ['Hanb', 'Jpan', 'Kore'],
  Hira: ['Jpan'],
  Kana: ['Jpan'],
  Hang: ['Kore'],
  Bopo: ['Hanb'],
};

/** The sets of scripts a "highly restrictive" name may mix (§5.2). */
const HIGHLY_RESTRICTIVE: readonly (readonly string[])[] = [
  ['Latn', 'Hani', 'Hira', 'Kana'],
  ['Latn', 'Hani', 'Bopo'],
  ['Latn', 'Hani', 'Hang'],
];

/** The scripts UAX #31 recommends for identifiers but Latin, Cyrillic and Greek: one may join Latin (§5.2, "moderately restrictive"). */
const JOINS_LATIN = new Set(
  'Arab Armn Beng Bopo Deva Ethi Geor Gujr Guru Hang Hani Hebr Hira Kana Khmr Knda Laoo Mlym Mymr Orya Sinh Taml Telu Thaa Thai Tibt'.split(
    ' ',
  ),
);

/** Characters of every script: Common (digits, punctuation, emoji) and Inherited (combining marks). */
const ANY_SCRIPT = /[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]/u;
/** Most names: Latin and characters of every script only, answered by one test. */
const LATIN = /^[\p{Script_Extensions=Latin}\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]*$/u;
/** What no font shows, but for the format characters name-text.ts refuses. */
const IGNORABLE = /(?!\p{Cf})\p{Default_Ignorable_Code_Point}/u;

const scriptTests = new Map<string, RegExp>();
// Each character's scripts once (SCRIPTS.length tests): an import of many names in one language
// meets the same few hundred. Bounded by the characters Unicode assigns.
const scriptsByChar = new Map<string, ReadonlySet<string>>();
let scriptNames: Intl.DisplayNames | undefined;

/** The scripts of a character that is not of every script, augmented (§5.1); `Zzzz` for one of a script newer than SCRIPTS. */
function scriptsOf(char: string): ReadonlySet<string> {
  const known = scriptsByChar.get(char);
  if (known !== undefined) return known;
  const found = new Set<string>();
  for (const code of SCRIPTS) {
    let test = scriptTests.get(code);
    if (test === undefined) {
      test = new RegExp(`\\p{Script_Extensions=${code}}`, 'u');
      scriptTests.set(code, test);
    }
    if (!test.test(char)) continue;
    found.add(code);
    for (const also of ALSO[code] ?? []) found.add(also);
  }
  if (found.size === 0) found.add('Zzzz');
  scriptsByChar.set(char, found);
  return found;
}

function scriptName(code: string): string {
  scriptNames ??= new Intl.DisplayNames('en', { type: 'script' });
  return scriptNames.of(code) ?? code;
}

/**
 * The character of a name that mixes scripts beyond "moderately restrictive", with its script, its
 * position and the script of the rest (`U+0443 (Cyrillic) at position 7 in a Latin name`), or
 * undefined.
 */
function mixedScripts(chars: readonly string[]): string | undefined {
  const placed: { index: number; scripts: ReadonlySet<string> }[] = [];
  chars.forEach((char, index) => {
    if (!ANY_SCRIPT.test(char)) placed.push({ index, scripts: scriptsOf(char) });
  });
  // Covered by a set of scripts: every character has one of them (§5.1).
  const coveredBy = (cover: readonly string[]): boolean => placed.every((p) => cover.some((s) => p.scripts.has(s)));
  const first = placed[0];
  if (first === undefined || [...first.scripts].some((s) => coveredBy([s]))) return undefined;
  if (HIGHLY_RESTRICTIVE.some(coveredBy)) return undefined;
  const notLatin = placed.find((p) => !p.scripts.has('Latn'));
  if (notLatin !== undefined && [...notLatin.scripts].some((s) => JOINS_LATIN.has(s) && coveredBy(['Latn', s]))) return undefined;
  // Named: the first character outside the script most characters have.
  const counts = new Map<string, number>();
  for (const p of placed) for (const s of p.scripts) counts.set(s, (counts.get(s) ?? 0) + 1);
  let main = [...first.scripts][0] as string;
  for (const [script, count] of counts) if (count > (counts.get(main) ?? 0)) main = script;
  const odd = placed.find((p) => !p.scripts.has(main)) ?? first;
  const oddScript = [...odd.scripts][0] as string;
  return `${characterName(chars[odd.index]?.codePointAt(0) ?? 0)} (${scriptName(oddScript)}) at position ${odd.index + 1} in a ${scriptName(main)} name`;
}

/**
 * Why an entry name about to be written would pass for another (`it holds U+034F … at position
 * 6, a character that does not show; remove it`), the fix included, or undefined.
 */
export function lookalikeProblem(name: string): string | undefined {
  // The common case, a plain ASCII name, costs one test.
  if (/^[\x20-\x7e]*$/.test(name)) return undefined;
  const chars = [...name];
  const hidden = chars.findIndex((c) => IGNORABLE.test(c));
  if (hidden >= 0)
    return `it holds ${characterName(chars[hidden]?.codePointAt(0) ?? 0)} at position ${hidden + 1}, a character that does not show; remove it`;
  const normal = name.normalize('NFKC');
  if (normal !== name) {
    const at = notNormalAt(chars);
    return `it holds ${characterName(chars[at]?.codePointAt(0) ?? 0)} at position ${at + 1}, which Unicode's NFKC normalisation writes otherwise, so that the name prints as another; write ${JSON.stringify(normal)}`;
  }
  const digits = mixedDigits(chars);
  if (digits !== undefined) return `it holds ${digits}, digits of two number systems; write its digits in one`;
  const mixed = LATIN.test(name) ? undefined : mixedScripts(chars);
  if (mixed === undefined) return undefined;
  return `it holds ${mixed}, a mix of scripts that makes one name look like another (Unicode UTS #39); write the name in one script`;
}

/** The index of the first character from which `chars` is not as NFKC writes it (a composing mark's, for a decomposed letter). */
function notNormalAt(chars: readonly string[]): number {
  let prefix = '';
  for (const [i, char] of chars.entries()) {
    prefix += char;
    if (prefix.normalize('NFKC') !== prefix) return i;
  }
  return 0;
}

const DIGIT = /\p{Nd}/u;

/**
 * The zero of a decimal digit's number system. Unicode assigns each system's digits 0 to 9 in
 * order, in runs of whole systems (the mathematical digits are five systems in a row).
 */
function zeroOf(code: number): number {
  let start = code;
  while (DIGIT.test(String.fromCodePoint(start - 1))) start -= 1;
  return start + Math.floor((code - start) / 10) * 10;
}

/** The first decimal digit of another number system than the name's first digit's, with its position, or undefined. */
function mixedDigits(chars: readonly string[]): string | undefined {
  let zero: number | undefined;
  for (const [i, char] of chars.entries()) {
    if (!DIGIT.test(char)) continue;
    const code = char.codePointAt(0) ?? 0;
    const own = zeroOf(code);
    zero ??= own;
    if (own !== zero) return `${characterName(code)} at position ${i + 1} after digits of another system`;
  }
  return undefined;
}

/** The name of an entry about to be written: entryNameSchema's rule, and no lookalike. */
export const newEntryNameSchema: z.ZodType<string> = entryNameSchema.superRefine((name, ctx) => {
  const problem = lookalikeProblem(name);
  if (problem !== undefined)
    ctx.addIssue({ code: 'custom', message: `an entry name must be a name a person can tell apart: ${problem}`, input: name });
});
