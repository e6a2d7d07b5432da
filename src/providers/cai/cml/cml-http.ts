// One CML API call made reliably: the Bearer key, a timeout per attempt, retries with back-off, creates that
// are looked for before they are repeated, pagination, and the optional request trace.
import { basename } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { silentLogger, type Logger } from '../../../log/logger.js';
import { RayfleetError } from '../../../errors.js';
import { DEFAULT_RETRY, backoffDelayMs, parseRetryAfterMs, type RetryOptions } from './cml-backoff.js';
import { errorOf, failureFromAnswer, failureFromBadBody, failureFromNetwork, type CallFailure } from './cml-errors.js';
import { maskSecret, scrubSecrets } from './cml-redact.js';
import { HttpTrace, type TraceEntry } from './cml-trace.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';
export type QueryValue = string | number | boolean | undefined;

/** One file of a multipart upload: the form field's name is where the file goes, relative to the project root. */
export interface FilePart {
  path: string;
  content: Uint8Array;
}

export interface CmlCall<T> {
  method: HttpMethod;
  /** From `/api/v2` on, path parameters already percent-encoded. */
  path: string;
  query?: Record<string, QueryValue>;
  /** A JSON body. */
  body?: unknown;
  /** A multipart/form-data body instead. */
  files?: FilePart[];
  /** From the parsed JSON answer to the result; so what `reconcile` finds and what an answer holds are alike. */
  decode?: (answer: unknown) => T;
  /** Whether doing it twice is the same as doing it once (GET, PATCH, DELETE, stop). */
  idempotent: boolean;
  /**
   * For a call that is not idempotent: after an attempt that may have taken effect (timeout, 5xx), finds what it
   * did, so that a create is never made twice. Without it such a call is not repeated.
   */
  reconcile?: (signal: AbortSignal | undefined) => Promise<T | undefined>;
  /** For a delete: the result when a 404 follows an attempt that may have taken effect (that attempt deleted it). */
  whenAlreadyGone?: T;
}

export interface CmlHttpOptions extends RetryOptions {
  /** The workspace URL, e.g. `https://ml-1234.example.cloudera.site`. */
  host: string;
  apiKey: string;
  fetch?: typeof fetch;
  /** How long one attempt may take; 30 s when absent. */
  timeoutMs?: number;
  logger?: Logger;
  /** Append a JSON line per attempt to this file. */
  traceFile?: string | undefined;
}

type AttemptResult<T> = { ok: true; value: T } | { ok: false; failure: CallFailure; retryAfterMs: number | undefined };

/** How the body of a 2xx answer becomes the call's result, and the Accept header that asks for it. */
interface AnswerReader<T> {
  accept: string;
  read: (body: Uint8Array) => { ok: true; value: T } | { ok: false; failure: CallFailure };
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class CmlHttp {
  readonly host: string;
  private readonly apiKey: string;
  private readonly fetchImpl: typeof fetch;
  private readonly retry: Required<RetryOptions>;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly trace: HttpTrace | undefined;

  constructor(options: CmlHttpOptions) {
    this.host = options.host.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.fetchImpl = options.fetch ?? fetch;
    this.retry = {
      maxAttempts: Math.max(1, options.maxAttempts ?? DEFAULT_RETRY.maxAttempts),
      baseDelayMs: options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs,
      maxDelayMs: options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs,
    };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.logger = options.logger ?? silentLogger;
    this.trace = options.traceFile === undefined || options.traceFile === '' ? undefined : new HttpTrace(options.traceFile, [this.apiKey]);
  }

  /** The key as it may be shown. */
  get maskedKey(): string {
    return maskSecret(this.apiKey);
  }

  /** Makes the call, retrying what can be retried; the caller's abort ends it at once with the abort's reason. */
  async call<T>(call: CmlCall<T>, signal?: AbortSignal): Promise<T> {
    return this.run(call, jsonAnswer(call.decode), signal);
  }

  /** Like `call`, for an operation that answers raw bytes (a file download) instead of JSON. */
  async callForBytes(call: Omit<CmlCall<Uint8Array>, 'decode'>, signal?: AbortSignal): Promise<Uint8Array> {
    return this.run(call, BYTES_ANSWER, signal);
  }

  private async run<T>(call: CmlCall<T>, reader: AnswerReader<T>, signal: AbortSignal | undefined): Promise<T> {
    let mayHaveActed = false;
    for (let attempt = 1; ; attempt += 1) {
      signal?.throwIfAborted();
      const result = await this.attempt(call, reader, attempt, signal);
      if (result.ok) return result.value;
      const { failure } = result;
      if (failure.kind === 'not-found' && mayHaveActed && call.whenAlreadyGone !== undefined) return call.whenAlreadyGone;
      if (failure.retry === 'never') throw this.errorOf(failure, call, attempt);
      const unknownOutcome = failure.retry === 'unknown';
      mayHaveActed ||= unknownOutcome;
      const mustLook = unknownOutcome && !call.idempotent;
      if (mustLook && call.reconcile === undefined) throw this.errorOf(failure, call, attempt, true);
      const last = attempt >= this.retry.maxAttempts;
      if (!last) {
        const waitMs = backoffDelayMs(attempt, this.retry, result.retryAfterMs);
        this.logger.warn({ method: call.method, path: call.path, attempt, status: failure.status, reason: this.scrub(failure.reason), waitMs }, 'CML API call failed; retrying');
        // Waiting first also gives a slow create time to land before it is looked for.
        await sleep(waitMs, signal);
      }
      if (mustLook && call.reconcile !== undefined) {
        const found = await call.reconcile(signal);
        if (found !== undefined) return found;
      }
      if (last) throw this.errorOf(failure, call, attempt, mustLook);
    }
  }

  /** Every item of a list operation, page by page, re-sending the same `page_size` with each `page_token`. */
  async *paginate<Item>(path: string, itemsKey: string, query: Record<string, QueryValue>, signal?: AbortSignal): AsyncGenerator<Item> {
    const seenTokens = new Set<string>();
    let pageToken: string | undefined;
    do {
      const page = await this.call<Record<string, unknown>>({ method: 'GET', path, query: { ...query, page_token: pageToken }, idempotent: true }, signal);
      const items = page[itemsKey] ?? [];
      if (!Array.isArray(items)) throw new RayfleetError('CAI_FAILED', `CML API at ${this.host}: GET ${path} answered a page whose "${itemsKey}" is not a list`);
      yield* items as Item[];
      const next = page.next_page_token;
      pageToken = typeof next === 'string' && next !== '' ? next : undefined;
      if (pageToken !== undefined && seenTokens.has(pageToken)) {
        throw new RayfleetError('CAI_FAILED', `CML API at ${this.host}: GET ${path} handed out the same page token twice; stopped listing to avoid a loop`);
      }
      if (pageToken !== undefined) seenTokens.add(pageToken);
    } while (pageToken !== undefined);
  }

  private async attempt<T>(call: CmlCall<T>, reader: AnswerReader<T>, attempt: number, signal: AbortSignal | undefined): Promise<AttemptResult<T>> {
    const url = new URL(`${this.host}${call.path}`);
    const query: Record<string, string> = {};
    for (const [name, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined) query[name] = String(value);
    }
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, accept: reader.accept };
    let body: string | FormData | undefined;
    if (call.files !== undefined) {
      const form = new FormData();
      for (const file of call.files) form.append(file.path, new Blob([new Uint8Array(file.content)]), basename(file.path));
      body = form;
    } else if (call.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(call.body);
    }

    const timeout = AbortSignal.timeout(this.timeoutMs);
    const started = performance.now();
    const traced: Omit<TraceEntry, 'status' | 'durationMs'> = {
      time: new Date().toISOString(),
      method: call.method,
      path: call.path,
      query,
      body: call.files !== undefined ? { files: call.files.map((file) => ({ path: file.path, bytes: file.content.byteLength })) } : (call.body ?? null),
      attempt,
    };
    let status: number | null = null;
    try {
      const response = await this.fetchImpl(url, { method: call.method, headers, body, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) });
      status = response.status;
      const answer = new Uint8Array(await response.arrayBuffer());
      // The trace never holds an answer's body, so a downloaded file's content stays out of it.
      this.trace?.write({ ...traced, status, durationMs: elapsedMs(started) });
      if (status < 200 || status >= 300) {
        return { ok: false, failure: failureFromAnswer(status, textOf(answer)), retryAfterMs: parseRetryAfterMs(response.headers.get('retry-after')) };
      }
      const read = reader.read(answer);
      return read.ok ? read : { ...read, retryAfterMs: undefined };
    } catch (error) {
      this.trace?.write({ ...traced, status, durationMs: elapsedMs(started), error: this.scrub(String((error as Error).message ?? error)) });
      if (signal?.aborted === true) throw signal.reason;
      return { ok: false, failure: failureFromNetwork(error, timeout.aborted ? this.timeoutMs : undefined), retryAfterMs: undefined };
    }
  }

  private errorOf(failure: CallFailure, call: CmlCall<unknown>, attempts: number, outcomeUnknown = false): RayfleetError {
    return errorOf({ ...failure, reason: this.scrub(failure.reason) }, { host: this.host, method: call.method, path: call.path, attempts, maskedKey: this.maskedKey, outcomeUnknown });
  }

  private scrub(text: string): string {
    return scrubSecrets(text, [this.apiKey]);
  }
}

/** The answer parsed as JSON (an empty body as `{}`), then decoded. */
function jsonAnswer<T>(decode: ((answer: unknown) => T) | undefined): AnswerReader<T> {
  return {
    accept: 'application/json',
    read: (body) => {
      const text = textOf(body);
      let answer: unknown;
      try {
        answer = text.trim() === '' ? {} : JSON.parse(text);
      } catch (error) {
        return { ok: false, failure: failureFromBadBody(text, error) };
      }
      return { ok: true, value: decode === undefined ? (answer as T) : decode(answer) };
    },
  };
}

/** The swagger declares no content type for a download; errors still come as grpc-gateway's JSON. */
const BYTES_ANSWER: AnswerReader<Uint8Array> = { accept: 'application/octet-stream, application/json', read: (body) => ({ ok: true, value: body }) };

function textOf(body: Uint8Array): string {
  return new TextDecoder().decode(body);
}

/** A back-off wait that ends, with the caller's own reason, when the caller aborts. */
async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    throw signal?.aborted === true ? signal.reason : error;
  }
}

function elapsedMs(started: number): number {
  return Math.round(performance.now() - started);
}
