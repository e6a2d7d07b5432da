// Keeping the CML API key and other secrets out of messages, logs and traces.

/** Names of fields (and environment variables) whose values are secrets. */
const SECRET_NAME = /key|token|secret|password/i;
export const REDACTED = '***';

/** Enough of a key for a person to tell which one it is: `abcd…yz`; of a short key, not even its length. */
export function maskSecret(secret: string): string {
  if (secret.length < 12) return '****';
  return `${secret.slice(0, 4)}…${secret.slice(-2)}`;
}

/**
 * A copy of a JSON value with every value under a secret-looking name replaced by `***`. Strings that hold
 * JSON objects are redacted inside too, because UpdateApplication sends `environment` as a JSON string.
 */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value === 'string') return redactJsonString(value);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, SECRET_NAME.test(name) ? REDACTED : redactSecrets(inner)]));
}

function redactJsonString(text: string): string {
  if (!text.startsWith('{')) return text;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? JSON.stringify(redactSecrets(parsed)) : text;
  } catch {
    return text;
  }
}

/** The text with every occurrence of each secret replaced by its mask: the last line of defence for free text. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let scrubbed = text;
  for (const secret of secrets) {
    if (secret !== '') scrubbed = scrubbed.split(secret).join(maskSecret(secret));
  }
  return scrubbed;
}
