// List operations as the API runs them: search_filter (case-sensitive substring), sort, and page tokens that
// demand the same page_size again. Which filter and sort keys exist is read from each operation's description.
import { ApiError, GrpcCode } from './api-error.js';
import type { SwaggerOperation } from './swagger.js';

/** The server's page size when the request names none (CML's docs say 10). */
const DEFAULT_PAGE_SIZE = 10;

export interface Page<Item> {
  items: Item[];
  next_page_token: string;
}

/** Filters, sorts and pages rendered items (objects with the swagger's field names). */
export function listPage<Item extends Record<string, unknown>>(items: Item[], query: URLSearchParams, operation: SwaggerOperation): Page<Item> {
  const filtered = applySearchFilter(items, query.get('search_filter'), operation);
  const sorted = applySort(filtered, query.get('sort'), operation);
  return paginate(sorted, query);
}

function applySearchFilter<Item extends Record<string, unknown>>(items: Item[], text: string | null, operation: SwaggerOperation): Item[] {
  if (text === null || text.trim() === '') return items;
  let filter: unknown;
  try {
    filter = JSON.parse(text);
  } catch {
    throw new ApiError(GrpcCode.invalidArgument, `search_filter is not a JSON object: ${text}`);
  }
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) throw new ApiError(GrpcCode.invalidArgument, `search_filter is not a JSON object: ${text}`);
  const supported = declaredKeys(operation, 'search_filter', /Supported search filter keys are:\s*\[([^\]]*)\]/);
  for (const key of Object.keys(filter)) {
    if (!supported.has(key)) throw new ApiError(GrpcCode.invalidArgument, `unsupported search filter key ${JSON.stringify(key)}; supported: ${[...supported].join(', ')}`);
  }
  return items.filter((item) => Object.entries(filter).every(([key, wanted]) => fieldMatches(lookUp(item, key), wanted, key)));
}

/**
 * Strings match by case-sensitive substring; other values by equality. `status` is given in lowercase words
 * (`running`) while items carry enum names (`APPLICATION_RUNNING`).
 */
function fieldMatches(actual: unknown, wanted: unknown, key: string): boolean {
  if (actual === undefined) return false;
  if (key === 'status' && typeof actual === 'string' && typeof wanted === 'string') return actual.toLowerCase().endsWith(`_${wanted}`);
  if (typeof actual === 'string' && typeof wanted === 'string') return actual.includes(wanted);
  return String(actual) === String(wanted);
}

function applySort<Item extends Record<string, unknown>>(items: Item[], text: string | null, operation: SwaggerOperation): Item[] {
  if (text === null || text.trim() === '') return items;
  const supported = declaredKeys(operation, 'sort', /Supported sort keys are:\s*\[([^\]]*)\]/);
  const keys = text.split(',').map((part) => {
    const trimmed = part.trim();
    const descending = trimmed.startsWith('-');
    const key = trimmed.replace(/^[+-]/, '');
    if (!supported.has(key)) throw new ApiError(GrpcCode.invalidArgument, `unsupported sort key ${JSON.stringify(key)}`);
    return { key, descending };
  });
  return [...items].sort((a, b) => {
    for (const { key, descending } of keys) {
      const order = String(lookUp(a, key) ?? '').localeCompare(String(lookUp(b, key) ?? ''));
      if (order !== 0) return descending ? -order : order;
    }
    return 0;
  });
}

interface PageToken {
  offset: number;
  pageSize: number;
}

function paginate<Item>(items: Item[], query: URLSearchParams): Page<Item> {
  const pageSize = query.has('page_size') ? Number(query.get('page_size')) : DEFAULT_PAGE_SIZE;
  if (pageSize <= 0) throw new ApiError(GrpcCode.invalidArgument, `page_size must be positive, not ${pageSize}`);
  let offset = 0;
  const tokenText = query.get('page_token');
  if (tokenText !== null && tokenText !== '') {
    const token = decodeToken(tokenText);
    // The swagger: "If specified, must be respecified for further requests when using the provided next page token".
    if (token.pageSize !== pageSize) {
      throw new ApiError(GrpcCode.invalidArgument, `page_size ${pageSize} differs from the ${token.pageSize} this page token was made for; re-send the same page_size`);
    }
    offset = token.offset;
  }
  const next = offset + pageSize;
  return { items: items.slice(offset, next), next_page_token: next < items.length ? encodeToken({ offset: next, pageSize }) : '' };
}

function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(text: string): PageToken {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as PageToken;
    if (Number.isInteger(token.offset) && Number.isInteger(token.pageSize)) return token;
  } catch {
    // Reported below.
  }
  throw new ApiError(GrpcCode.invalidArgument, `invalid page_token ${JSON.stringify(text)}`);
}

/** `creator.name` looks inside `creator`. */
function lookUp(item: Record<string, unknown>, key: string): unknown {
  let value: unknown = item;
  for (const part of key.split('.')) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  return value;
}

/** The keys a parameter's description lists, plus a key it names in `where "status" can be one of`. */
function declaredKeys(operation: SwaggerOperation, parameterName: string, listPattern: RegExp): Set<string> {
  const description = operation.parameters?.find((parameter) => parameter.name === parameterName)?.description ?? '';
  const keys = new Set((listPattern.exec(description)?.[1] ?? '').split(/[\s,"]+/).filter((key) => key !== ''));
  const extra = /where "(\w+)" can be one of/.exec(description)?.[1];
  if (extra !== undefined) keys.add(extra);
  return keys;
}
