// RAYFLEET_HTTP_TRACE: one JSON line per CML API request attempt, secrets redacted, for debugging a workspace.
import { appendFileSync } from 'node:fs';
import { redactSecrets, scrubSecrets } from './cml-redact.js';

export interface TraceEntry {
  time: string;
  method: string;
  path: string;
  query: Record<string, string>;
  /** The request body (null when none); a multipart upload as the names and sizes of its files. */
  body: unknown;
  /** null when no answer came. */
  status: number | null;
  durationMs: number;
  attempt: number;
  /** Why no answer came. */
  error?: string;
}

export class HttpTrace {
  constructor(
    private readonly file: string,
    /** Values that must never reach the file even where no field name gives them away: the API key. */
    private readonly secrets: readonly string[],
  ) {}

  /** Appends synchronously, so lines keep the order of the attempts and survive a crash right after. */
  write(entry: TraceEntry): void {
    // The Authorization header is never part of an entry; bodies and queries are redacted by field name.
    const redacted = { ...entry, query: redactSecrets(entry.query), body: redactSecrets(entry.body) };
    appendFileSync(this.file, `${scrubSecrets(JSON.stringify(redacted), this.secrets)}\n`);
  }
}
