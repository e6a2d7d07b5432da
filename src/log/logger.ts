// Logs for people and machines on stderr (stdout is for results), with secrets redacted.
import pino, { type Logger } from 'pino';
import { readEnv } from '../environment.js';

export type { Logger };

/** Field names whose values never reach a log line. */
const SECRET_PATHS = ['token', 'authToken', 'apiKey', '*.token', '*.authToken', '*.apiKey', 'env.RAY_AUTH_TOKEN', 'env.CML_API_KEY', 'env.CDSW_APIV2_KEY'];

export function createLogger(level: string = readEnv('RAYFLEET_LOG_LEVEL') ?? 'warn'): Logger {
  return pino({ level, redact: { paths: SECRET_PATHS, censor: '[redacted]' } }, pino.destination(2));
}

export const silentLogger: Logger = pino({ level: 'silent' });
