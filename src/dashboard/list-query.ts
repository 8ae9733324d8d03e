/** The entry list's query string (`/ui/api/entries?offset&limit&q&state&origin&queue&selector&failing&sort&desc`), checked: a 400 names the bad parameter. */
import { DEFAULTS } from '../base/defaults.js';
import { SORT_KEYS } from './entry-rows.js';
import type { RowQuery, SortKey } from './entry-rows.js';
import { ErrorCode } from '../base/errors.js';
import { ApiError } from '../http/failures.js';
import type { EntryStateName } from './wire.js';
import { parseSelector, selectorProblemText } from '../core/label-selector.js';
import type { LabelSelector } from '../core/label-selector.js';

/** The `selector` parameter (a label selector), checked: a 400 names the position and the rule; blank selects every entry. */
export function selectorParam(params: URLSearchParams): LabelSelector | undefined {
  const text = params.get('selector') ?? '';
  if (text.trim() === '') return undefined;
  const parsed = parseSelector(text);
  if (!parsed.ok) throw new ApiError(ErrorCode.ApiBadRequest, `selector=${text}: ${selectorProblemText(parsed.problem)}`);
  return parsed.selector;
}

export function parseQuery(params: URLSearchParams): RowQuery {
  const int = (name: string, fallback: number, max: number): number => {
    const text = params.get(name);
    const n = text === null ? fallback : Number(text);
    if (!Number.isInteger(n) || n < 0 || n > max)
      throw new ApiError(ErrorCode.ApiBadRequest, `${name}=${text}: expected a whole number from 0 to ${max}`);
    return n;
  };
  const sort = params.get('sort') ?? 'name';
  if (!(SORT_KEYS as readonly string[]).includes(sort))
    throw new ApiError(ErrorCode.ApiBadRequest, `sort=${sort}: expected one of ${SORT_KEYS.join(', ')}`);
  const state = params.get('state') ?? '';
  if (state !== '' && !['active', 'paused', 'disabled', 'invalid'].includes(state)) {
    throw new ApiError(ErrorCode.ApiBadRequest, `state=${state}: expected active, paused, disabled or invalid`);
  }
  return {
    q: params.get('q') ?? '',
    state: state === '' ? undefined : (state as EntryStateName),
    origin: params.get('origin') || undefined,
    queue: params.get('queue') || undefined,
    selector: selectorParam(params),
    failing: params.get('failing') === '1',
    sort: sort as SortKey,
    descending: params.get('desc') === '1',
    offset: int('offset', 0, Number.MAX_SAFE_INTEGER),
    limit: int('limit', 100, DEFAULTS.dashboardPageMax),
  };
}
