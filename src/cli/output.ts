// Where command results go: stdout, as JSON for scripts or text for people; progress on stderr only for a terminal.
import { readEnv } from '../environment.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Progress for a person watching: shown on a terminal, silent when stderr is piped or in CI. */
export function progressReporter(enabled: boolean): ((line: string) => void) | undefined {
  if (!enabled || process.stderr.isTTY !== true || readEnv('CI') === 'true') return undefined;
  return (line: string) => process.stderr.write(`… ${line}\n`);
}
