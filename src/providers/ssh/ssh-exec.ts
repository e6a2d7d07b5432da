// One command on a host over its own `ssh`, for what is rare and long (copying wheels, building a venv), not for a tick.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { RayfleetError, type ErrorCode } from '../../errors.js';
import { sshArgs } from './ssh-command.js';
import type { SshHostSettings, SshProviderSettings } from './ssh-settings.js';

const OUTPUT_TAIL_CHARS = 4_000;
/** ssh's own exit code when it could not reach the host or log in; anything else is the remote command's. */
const SSH_FAILED = 255;

export interface SshExecOptions {
  stdin?: Readable;
  signal?: AbortSignal | undefined;
  /** The code a failure of the remote command is reported with. */
  failureCode: ErrorCode;
  /** What the command does, for the error: `installing Ray on 10.0.0.5`. */
  what: string;
}

/** Runs `remoteCommand` on the host; its stdout, or an error carrying the tail of its output. */
export async function sshExec(host: SshHostSettings, settings: SshProviderSettings, hostKeyChecking: string, remoteCommand: string, options: SshExecOptions): Promise<string> {
  const child = spawn('ssh', sshArgs(host, settings, hostKeyChecking, remoteCommand), { stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], signal: options.signal });
  let stdout = '';
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    output = (output + chunk).slice(-OUTPUT_TAIL_CHARS);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output = (output + chunk).slice(-OUTPUT_TAIL_CHARS);
  });
  if (options.stdin !== undefined && child.stdin !== null) {
    child.stdin.on('error', () => undefined);
    options.stdin.pipe(child.stdin);
  }
  const exit = await new Promise<number | string>((resolve) => {
    child.once('error', (error) => resolve(error.message));
    child.once('close', (code, signalName) => resolve(code ?? `signal ${signalName ?? '?'}`));
  });
  if (exit === 0) return stdout;
  options.signal?.throwIfAborted();
  const code: ErrorCode = exit === SSH_FAILED ? 'HOST_UNREACHABLE' : options.failureCode;
  throw new RayfleetError(code, `${options.what} failed (${typeof exit === 'number' ? `exit ${exit}` : exit})`, { details: output.trim() });
}
