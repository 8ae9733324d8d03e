/**
 * Labels: string keys and values an entry carries (`team: billing`, `tier: critical`) so that
 * people and tools can select groups of entries. Their spelling is Kubernetes' (the rules its
 * apimachinery `validation.IsQualifiedName` and `IsValidLabelValue` apply), so that a label
 * written for one fits the other and a selector reads the same in both. Pure: text in, problems out.
 */

/** An entry's labels: key → value (a value may be empty). */
export type Labels = Readonly<Record<string, string>>;

/** Kubernetes' limits: a name part and a value at most 63 characters, a prefix (a DNS subdomain) at most 253. */
export const LABEL_NAME_MAX = 63;
export const LABEL_PREFIX_MAX = 253;

/** A name or value: letters, digits, '-', '_', '.', starting and ending with a letter or digit. */
const NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** A DNS-1123 subdomain: lower-case dot-separated labels of letters, digits and '-', each starting and ending with a letter or digit. */
const SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

const NAME_RULE = `at most ${LABEL_NAME_MAX} letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;

/** Why `key` is not a label key (Kubernetes' qualified name: `[prefix/]name`), or undefined when it is one. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length === 0) return 'a label key\'s prefix (before "/") must not be empty';
    if (prefix.length > LABEL_PREFIX_MAX) return `a label key's prefix (before "/") is at most ${LABEL_PREFIX_MAX} characters`;
    if (!SUBDOMAIN.test(prefix))
      return "a label key's prefix (before \"/\") must be a DNS subdomain: lower-case letters, digits, '-' and '.', such as \"example.com\"";
    if (name.includes('/')) return 'a label key holds at most one "/" (prefix/name)';
  }
  if (name.length === 0) return "a label key's name must not be empty";
  if (name.length > LABEL_NAME_MAX || !NAME.test(name)) return `a label key's name must be ${NAME_RULE}`;
  return undefined;
}

/** Why `value` is not a label value, or undefined when it is one (the empty value is one). */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > LABEL_NAME_MAX || !NAME.test(value)) return `a label value must be empty or ${NAME_RULE}`;
  return undefined;
}

/** An entry's labels as one line: `team=billing,tier=critical` (keys in order), or '' without any. */
export function labelsText(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key] ?? ''}`)
    .join(',');
}

/**
 * The labels of a stored definition as JSON holds it (a runtime entry's record): only an object of
 * strings is labels. The store checked them when they were written; a record written by hand is not
 * trusted further than this, and one that breaks it selects as an entry without labels.
 */
export function storedLabels(definition: unknown): Labels | undefined {
  if (definition === null || typeof definition !== 'object') return undefined;
  const labels = (definition as { labels?: unknown }).labels;
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) return undefined;
  for (const value of Object.values(labels)) if (typeof value !== 'string') return undefined;
  return labels as Labels;
}
