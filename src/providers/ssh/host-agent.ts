// rayfleet's agent on one SSH host (launchers/host_agent.py), over one long-lived `ssh` session: JSON lines in and out.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { RayfleetError, isRayfleetError, type ErrorCode } from '../../errors.js';
import { packageFile } from '../../package-files.js';
import type { NodeResources, NodeRole } from '../node-provider.js';
import type { UnreadableNode } from '../partial-list-error.js';
import { shellQuote, sshArgs } from './ssh-command.js';
import type { SshHostSettings, SshProviderSettings } from './ssh-settings.js';

/** A node as its host's agent keeps it. */
export interface HostNode {
  name: string;
  role: NodeRole;
  group: string;
  index: number;
  createdAt: string;
  address: string;
  resources: NodeResources;
  pid: number;
  state: 'running' | 'failed' | 'stopped';
}

export type HostNodeSpec = Omit<HostNode, 'pid' | 'state'>;

/** What a host says of itself when the agent starts. */
export interface HostFacts {
  bootId: string;
  hostname: string;
  /** The agent's own python3, e.g. 3.11.2. */
  python: string;
  cpus: number;
  memoryBytes: number;
  gpus: number;
  home: string;
  stateDir: string;
}

/** One host's agent: what the SSH provider asks of a host. The in-memory one in tests answers the same. */
export interface HostAgent {
  hello(signal?: AbortSignal): Promise<HostFacts>;
  list(signal?: AbortSignal): Promise<{ nodes: HostNode[]; unreadable: UnreadableNode[] }>;
  /** Starts `argv` as the node, held until its record is written; a name that runs already is returned as it is. */
  launch(node: HostNodeSpec, argv: string[], env: Record<string, string>, signal?: AbortSignal): Promise<HostNode>;
  terminate(name: string, graceMs: number, signal?: AbortSignal): Promise<void>;
  /** Lines from a byte offset, or the last `tail` lines; and the offset to read on from. */
  readLog(name: string, from: { offset?: number; tail?: number }, signal?: AbortSignal): Promise<{ lines: string[]; offset: number }>;
  /** Writes a file (0600) in the cluster's directory on the host, from this channel, never argv; returns its path there. */
  writeSecret(file: string, content: string, signal?: AbortSignal): Promise<string>;
  freePort(signal?: AbortSignal): Promise<number>;
  pythonInfo(python: string, signal?: AbortSignal): Promise<{ python: string; ray: string | null }>;
  /** Removes the cluster's directory on the host, once no node of it is left there. */
  removeState(signal?: AbortSignal): Promise<void>;
  /**
   * Removes a file or directory tree inside the cluster's directory or its nodes' temp dir on the host (`~/` is the
   * login's home there); one that is gone already is no error, one outside them is refused (USAGE).
   */
  remove(hostPath: string, signal?: AbortSignal): Promise<void>;
  close(): void;
}

/**
 * Runs the agent from stdin: the first line is the source's length, then the source, then the requests. One `ssh` for
 * the agent's whole life, and nothing of rayfleet installed on the host.
 */
const BOOTSTRAP = "import sys; n = int(sys.stdin.readline()); exec(compile(sys.stdin.read(n), 'host_agent.py', 'exec'))";
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** The codes the agent answers with (launchers/host_agent.py); anything else is PROVIDER_FAILED. */
const AGENT_CODES: readonly ErrorCode[] = ['USAGE', 'NODE_NOT_FOUND', 'NODE_RECORD_UNREADABLE', 'NODE_START_FAILED', 'RUNTIME_MISMATCH', 'PROVIDER_FAILED'];
/** What is kept of ssh's stderr, for the error that says why a host did not answer. */
const STDERR_TAIL_CHARS = 2_000;

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

interface Session {
  child: ChildProcessWithoutNullStreams;
  pending: Map<number, Pending>;
  ready: Promise<void>;
  stderr: string;
  ended: boolean;
  /** Requests on their way (waiting for the agent to start, or for its answer). */
  waiting: number;
}

let agentSource: string | undefined;

export interface SshHostAgentOptions {
  host: SshHostSettings;
  settings: SshProviderSettings;
  /** The cluster's directory on the host; `~` is the login's home. */
  stateDir: string;
  /** Where the cluster's nodes keep their Ray sessions on the host. */
  tempDir: string;
  /** StrictHostKeyChecking as resolved for this host (see hostKeyOption). */
  hostKeyChecking: () => Promise<string>;
  requestTimeoutMs?: number;
}

export class SshHostAgent implements HostAgent {
  private session: Session | undefined;
  private nextId = 1;

  constructor(private readonly options: SshHostAgentOptions) {}

  hello(signal?: AbortSignal): Promise<HostFacts> {
    return this.request('hello', {}, signal) as Promise<HostFacts>;
  }

  list(signal?: AbortSignal): Promise<{ nodes: HostNode[]; unreadable: UnreadableNode[] }> {
    return this.request('list', {}, signal) as Promise<{ nodes: HostNode[]; unreadable: UnreadableNode[] }>;
  }

  launch(node: HostNodeSpec, argv: string[], env: Record<string, string>, signal?: AbortSignal): Promise<HostNode> {
    return this.request('launch', { node, argv, env }, signal, 180_000) as Promise<HostNode>;
  }

  async terminate(name: string, graceMs: number, signal?: AbortSignal): Promise<void> {
    await this.request('terminate', { name, graceMs }, signal, graceMs + DEFAULT_REQUEST_TIMEOUT_MS);
  }

  readLog(name: string, from: { offset?: number; tail?: number }, signal?: AbortSignal): Promise<{ lines: string[]; offset: number }> {
    return this.request('read-log', { name, offset: from.offset ?? null, tail: from.tail ?? null }, signal) as Promise<{ lines: string[]; offset: number }>;
  }

  async writeSecret(file: string, content: string, signal?: AbortSignal): Promise<string> {
    return ((await this.request('write-secret', { file, content }, signal)) as { path: string }).path;
  }

  async freePort(signal?: AbortSignal): Promise<number> {
    return ((await this.request('free-port', {}, signal)) as { port: number }).port;
  }

  pythonInfo(python: string, signal?: AbortSignal): Promise<{ python: string; ray: string | null }> {
    return this.request('python-info', { python }, signal, 180_000) as Promise<{ python: string; ray: string | null }>;
  }

  async removeState(signal?: AbortSignal): Promise<void> {
    await this.request('remove-state', {}, signal);
  }

  async remove(hostPath: string, signal?: AbortSignal): Promise<void> {
    await this.request('remove', { path: hostPath }, signal);
  }

  /** Ends the session: the agent sees end-of-file and exits; the nodes it started run on, in sessions of their own. */
  close(): void {
    const session = this.session;
    this.session = undefined;
    if (session === undefined || session.ended) return;
    session.child.stdin.end();
    // A host that stopped answering would keep the ssh client waiting for its keep-alives: it goes now.
    const kill = setTimeout(() => session.child.kill('SIGKILL'), 2_000);
    kill.unref();
    session.child.once('exit', () => clearTimeout(kill));
  }

  private get where(): string {
    const { host, settings } = this.options;
    const user = host.user ?? settings.user;
    return `${user === undefined ? '' : `${user}@`}${host.address}${host.port === undefined ? '' : `:${host.port}`}`;
  }

  private async request(op: string, body: Record<string, unknown>, signal: AbortSignal | undefined, timeoutMs = this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS): Promise<unknown> {
    signal?.throwIfAborted();
    const session = await this.open();
    // Held open from here, while the agent starts too: a command with nothing else to do must not exit under its request.
    session.waiting += 1;
    holdProcessOpen(session, true);
    try {
      return await this.exchange(session, op, body, signal, timeoutMs);
    } finally {
      session.waiting -= 1;
      if (session.waiting === 0) holdProcessOpen(session, false);
    }
  }

  /** One request and its answer, within the timeout (the agent's start included). */
  private exchange(session: Session, op: string, body: Record<string, unknown>, signal: AbortSignal | undefined, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        session.pending.delete(id);
      };
      const timer = setTimeout(() => {
        cleanup();
        // An agent that does not answer in time is not trusted with the next request either: the session starts anew.
        this.endSession(session, `no answer to ${op} within ${timeoutMs / 1000} s`);
        reject(this.unreachable(`no answer to ${op} within ${timeoutMs / 1000} s`, session));
      }, timeoutMs);
      const onAbort = (): void => {
        cleanup();
        reject(signal?.reason instanceof Error ? signal.reason : new RayfleetError('INTERRUPTED', `${op} on ${this.where} was interrupted`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      session.pending.set(id, {
        resolve: (result) => {
          cleanup();
          resolve(result);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      });
      session.ready.then(
        () => {
          if (session.pending.has(id)) session.child.stdin.write(`${JSON.stringify({ id, op, ...body })}\n`);
        },
        (error: Error) => session.pending.get(id)?.reject(error),
      );
    });
  }

  private async open(): Promise<Session> {
    if (this.session !== undefined && !this.session.ended) return this.session;
    agentSource ??= readFileSync(packageFile('launchers/host_agent.py'), 'utf8');
    const remote = `python3 -u -c ${shellQuote(BOOTSTRAP)} ${shellQuote(this.options.stateDir)} ${shellQuote(this.options.tempDir)}`;
    const args = sshArgs(this.options.host, this.options.settings, await this.options.hostKeyChecking(), remote);
    const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let markReady: () => void = () => undefined;
    let failReady: (error: Error) => void = () => undefined;
    const session: Session = {
      child,
      pending: new Map(),
      ready: new Promise<void>((resolve, reject) => {
        markReady = resolve;
        failReady = reject;
      }),
      stderr: '',
      ended: false,
      waiting: 0,
    };
    // Nobody may be waiting for `ready` yet when it fails; the requests that do wait see the error.
    session.ready.catch(() => undefined);
    this.session = session;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      session.stderr = (session.stderr + chunk).slice(-STDERR_TAIL_CHARS);
    });
    child.stdin.on('error', () => undefined);
    child.on('error', (error) => this.endSession(session, `cannot run ssh: ${error.message}`));
    child.on('exit', (code, signalName) => {
      this.endSession(session, `ssh ended (${signalName ?? `exit ${code ?? '?'}`})`);
      failReady(this.unreachable('the agent did not start', session));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let answer: { id?: number; ok?: boolean; result?: unknown; error?: { code?: string; message?: string } };
      try {
        answer = JSON.parse(line) as typeof answer;
      } catch {
        return;
      }
      if (answer.id === 0) {
        markReady();
        return;
      }
      const pending = answer.id === undefined ? undefined : session.pending.get(answer.id);
      if (pending === undefined) return;
      if (answer.ok === true) pending.resolve(answer.result);
      else pending.reject(this.agentError(answer.error));
    });
    child.stdin.write(`${agentSource.length}\n${agentSource}`);
    holdProcessOpen(session, false);
    return session;
  }

  private endSession(session: Session, why: string): void {
    if (session.ended) return;
    session.ended = true;
    if (this.session === session) this.session = undefined;
    if (session.child.exitCode === null) session.child.kill('SIGKILL');
    for (const pending of session.pending.values()) pending.reject(this.unreachable(why, session));
    session.pending.clear();
  }

  private unreachable(why: string, session: Session): RayfleetError {
    const stderr = session.stderr.trim();
    return new RayfleetError('HOST_UNREACHABLE', `host ${this.where} does not answer: ${why}`, {
      details: stderr === '' ? `Check that \`ssh ${this.where} python3 --version\` works from this machine without a prompt.` : `ssh said: ${stderr}`,
    });
  }

  private agentError(error: { code?: string; message?: string } | undefined): RayfleetError {
    const code = AGENT_CODES.find((known) => known === error?.code) ?? 'PROVIDER_FAILED';
    return new RayfleetError(code, `${this.where}: ${error?.message ?? 'the agent failed'}`);
  }
}

/**
 * An idle session does not keep this process alive: a command that is done exits, its ssh client sees its stdin close
 * and the agent ends. A session with a request on its way does, so the answer is waited for.
 */
function holdProcessOpen(session: Session, hold: boolean): void {
  const handles = [session.child, session.child.stdin, session.child.stdout, session.child.stderr] as { ref?: () => void; unref?: () => void }[];
  for (const handle of handles) {
    if (hold) handle.ref?.();
    else handle.unref?.();
  }
}

/** Whether an error says the host did not answer (rather than that it answered no). */
export function isHostUnreachable(error: unknown): boolean {
  return isRayfleetError(error, 'HOST_UNREACHABLE');
}
