/**
 * Building the page's DOM. Every piece of data goes in as text (a text node, or an attribute set
 * through the DOM): nothing is ever parsed as HTML, so an entry named `<script>` shows as that text.
 */

export type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | ((event: Event) => void) | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, value);
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** "in 3 min", "12 s ago": how far an instant is from now. */
export function relative(ms: number, nowMs: number): string {
  const d = ms - nowMs;
  const a = Math.abs(d);
  const text =
    a < 1000
      ? 'now'
      : a < 60_000
        ? `${Math.round(a / 1000)} s`
        : a < 3_600_000
          ? `${Math.round(a / 60_000)} min`
          : a < 86_400_000
            ? `${(a / 3_600_000).toFixed(1)} h`
            : `${(a / 86_400_000).toFixed(1)} d`;
  if (text === 'now') return text;
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

/** A JSON value, indented, as text. */
export function jsonBlock(value: unknown): HTMLPreElement {
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}

/** Replaces the element's children (nulls and falses skipped). */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with its attributes (set through the DOM, as h() does) and children. */
export function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  append(el, ...children);
  return el;
}

/** A name's separators: a dotted task name or a zone breaks between its parts. */
const NAME_SEPARATORS = /(?<=[._\-/:])/;
/** A schedule in words breaks after an rrule's `;`, a list's `,` and `DTSTART:` (`DTSTART:20260105T090000 RRULE:FREQ=WEEKLY;BYDAY=MO,FR`). */
export const SCHEDULE_SEPARATORS = /(?<=[;,]|DTSTART:)/;

/**
 * Text that may wrap after its separators (by default . _ - / :) and nowhere else: it breaks
 * between its parts when its column is narrow, never inside one.
 */
export function breakable(text: string, separators: RegExp = NAME_SEPARATORS): Child[] {
  const out: Child[] = [];
  for (const part of text.split(separators)) {
    if (out.length > 0) out.push(h('wbr'));
    out.push(part);
  }
  return out;
}
