// The ssh backend: a pool of machines reached over SSH; each node a `ray start --block` on a host with room for its shape.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { RayfleetError, messageOf } from '../../errors.js';
import { byRoleGroupIndex, type GcsStore, type Instance, type LaunchRequest, type LogOptions, type NodeProvider, type NodeResources } from '../node-provider.js';
import { PartialListError, type UnreadableNode } from '../partial-list-error.js';
import type { HeadPorts } from '../../spec/schema.js';
import { rayStartArgs } from '../ray-start-args.js';
import { isHostUnreachable, type HostAgent, type HostFacts, type HostNode } from './host-agent.js';
import { placeNode, roomFor, type HostBin, type PlacedNode } from './host-placement.js';
import { NodeClaims, isLaunchInProgress, type NodeClaim } from './node-claims.js';
import { headHostOf, type SshHostSettings, type SshProviderSettings } from './ssh-settings.js';

export interface HostRuntime {
  /** The `ray` command on the host. */
  rayCommand: string;
}

export interface SshProviderOptions {
  cluster: string;
  settings: SshProviderSettings;
  head: HeadPorts;
  /** Where the claims live on this machine (the cluster's state directory). */
  stateDir: string;
  /** The cluster's directory on every host (`~` is the login's home): records, logs, its token. */
  remoteStateDir: string;
  /** Ray's session files of this cluster's nodes on a host, one short directory each (unix socket paths are capped at 107 bytes). */
  remoteTempDir: string;
  /** Each host's agent; one long-lived session per host. */
  agentFor: (host: SshHostSettings) => HostAgent;
  /** Makes Ray ready on a host (checks the given Python, or installs the managed runtime) and says where it is. */
  prepareRuntime: (host: SshHostSettings, agent: HostAgent, facts: HostFacts, signal?: AbortSignal) => Promise<HostRuntime>;
  /** A host stopped answering: what was learnt of it (its runtime) is asked again when it answers. */
  onHostDown?: (host: SshHostSettings) => void;
  stopGraceMs?: number;
  /** After a host did not answer, launches avoid it this long at first, doubling to at most BACKOFF_MAX_MS. */
  backoffMs?: number;
  followIntervalMs?: number;
  now?: () => number;
}

const DEFAULT_STOP_GRACE_MS = 30_000;
/**
 * What is left of a head whose `ray start --block` is gone (its raylet, agents) has nothing to shut down in order, and its
 * raylet, told to stop, waits for the dead GCS: SIGKILL follows SIGTERM after this.
 */
const HEAD_REMNANT_GRACE_MS = 2_000;
const DEFAULT_BACKOFF_MS = 5_000;
const BACKOFF_MAX_MS = 5 * 60_000;
/** A host that does not answer is asked again by a list at most this often (an idle watcher lists every second). */
const LIST_RETRY_MAX_MS = 15_000;
const FOLLOW_INTERVAL_MS = 500;

interface HostHealth {
  failures: number;
  /** Launches avoid the host until then. */
  untilMs: number;
  /** When it was last asked, and what it answered: a list asks a silent host again only every so often. */
  triedMs: number;
  error: unknown;
  why: string;
}

/** A host's listing: its nodes, or why it did not answer. */
type HostListing = { host: SshHostSettings; nodes: HostNode[]; unreadable: UnreadableNode[] } | { host: SshHostSettings; error: unknown };

export class SshProvider implements NodeProvider {
  readonly type = 'ssh';
  private readonly claims: NodeClaims;
  private readonly agents = new Map<string, HostAgent>();
  private readonly facts = new Map<string, HostFacts>();
  private readonly runtimes = new Map<string, HostRuntime>();
  private readonly tokens = new Map<string, { content: string; path: string }>();
  private readonly health = new Map<string, HostHealth>();
  private readonly visited = new Set<string>();
  /** The placing of launches in this process, one after another. */
  private placing: Promise<unknown> = Promise.resolve();
  /** The head's GCS store could not be cleared (its host did not answer): the head is not launched before it is. */
  private storeNotCleared = false;

  constructor(private readonly options: SshProviderOptions) {
    this.claims = new NodeClaims(path.join(options.stateDir, 'ssh-nodes'));
  }

  private get hosts(): SshHostSettings[] {
    return this.options.settings.hosts;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private agent(host: SshHostSettings): HostAgent {
    let agent = this.agents.get(host.address);
    if (agent === undefined) {
      agent = this.options.agentFor(host);
      this.agents.set(host.address, agent);
    }
    return agent;
  }

  private hostNamed(address: string): SshHostSettings | undefined {
    return this.hosts.find((host) => host.address === address);
  }

  /** The head's host: every worker joins Ray there, and this machine reaches the head's GCS and dashboard there. */
  async headHost(): Promise<string> {
    return headHostOf(this.options.settings).address;
  }

  async launch(request: LaunchRequest, signal?: AbortSignal): Promise<Instance> {
    signal?.throwIfAborted();
    const placed = await this.oneAtATime(() => this.placeAndClaim(request, signal));
    if ('running' in placed) return placed.running;
    const { host } = placed;
    const agent = this.agent(host);
    const claim = (await this.claims.read(request.name)) as NodeClaim;
    // Until the launch is sent, nothing can have started on the host: a failure before it releases the name.
    let sent = false;
    try {
      // A fresh head never starts from a previous cluster's store, even where clearing it found its host silent.
      if (request.role === 'head' && this.storeNotCleared) await this.clearGcsStore(signal);
      const facts = await this.hostFacts(host, signal);
      const runtime = await this.runtime(host, agent, facts, signal);
      const env = await this.nodeEnv(host, agent, request.env, signal);
      const othersOnHost = (await this.claims.all()).claims.some((other) => other.host === host.address && other.name !== request.name);
      const argv = [
        runtime.rayCommand,
        ...rayStartArgs(request, {
          headHost: headHostOf(this.options.settings).address,
          head: this.options.head,
          // The head's dashboard answers this machine (jobs, Serve, the fallback view), across the network.
          dashboardHost: '0.0.0.0',
          sharedHost: {
            tempDir: this.nodeTempDir(request.name),
            dashboardAgentPort: await agent.freePort(signal),
            // The first node on a host streams its drivers' output; more would print every line twice.
            includeLogMonitor: !othersOnHost,
          },
        }),
      ];
      sent = true;
      const node = await agent.launch(
        { name: request.name, role: request.role, group: request.group, index: request.index, createdAt: claim.createdAt, address: addressOf(request.role, host, this.options.head), resources: request.resources },
        argv,
        env,
        signal,
      );
      this.health.delete(host.address);
      return this.toInstance(node, host.address);
    } catch (error) {
      if (isHostUnreachable(error)) this.markDown(host, error);
      // A launch sent to a host that then did not answer may or may not have started the node: the name stays claimed
      // (unknown) so it is never made twice.
      if (!(sent && isHostUnreachable(error))) await this.claims.release(request.name);
      throw error;
    }
  }

  /**
   * A host for the node and its name claimed there, or the node that runs under the name already. Launches of one call
   * run in parallel (the launch lock holds off other processes): placing them one at a time here keeps two from
   * taking the same room.
   */
  private async placeAndClaim(request: LaunchRequest, signal: AbortSignal | undefined): Promise<{ host: SshHostSettings } | { running: Instance }> {
    for (;;) {
      const existing = await this.claims.read(request.name);
      if (existing !== undefined) {
        const instance = await this.instanceOfClaim(existing, signal);
        if (instance.state === 'starting' || instance.state === 'running') return { running: instance };
        // What is left of a node that ended: stopped on its host before the name is used again.
        await this.terminate(request.name, signal);
      }
      const host = request.role === 'head' ? headHostOf(this.options.settings) : await this.placeWorker(request, signal);
      const claimed = await this.claims.claim({ name: request.name, role: request.role, group: request.group, index: request.index, host: host.address, createdAt: new Date(this.now()).toISOString(), resources: request.resources });
      if (claimed) return { host };
    }
  }

  private oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.placing.then(work, work);
    this.placing = turn.catch(() => undefined);
    return turn;
  }

  /**
   * Stops the node on its host (only processes provably its own) and releases its name. A host that does not answer
   * cannot prove its node gone: the claim stays and the error says so; a later terminate finishes the job.
   */
  async terminate(name: string, signal?: AbortSignal): Promise<void> {
    const claim = await this.claims.read(name);
    const host = claim === undefined ? await this.hostHolding(name, signal) : this.hostNamed(claim.host);
    if (host === undefined) {
      if (claim !== undefined) {
        // Its host left the spec: rayfleet cannot reach it any more; the name is released, the host is said plainly.
        await this.claims.release(name);
      }
      return;
    }
    await this.agent(host).terminate(name, this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS, signal);
    await this.claims.release(name);
  }

  /**
   * The head's GCS store in the cluster's directory on the head's host (`~` is the login's home there, which the host's
   * agent resolves as it starts the head). Cleared through that host's agent: a host that does not answer keeps it inside
   * the cluster's directory, which `down` names as left there, and a head is not launched from here until it is cleared.
   */
  gcsStore(): GcsStore {
    return { path: this.gcsStorePath, clear: (signal) => this.clearGcsStore(signal, { hostMaySkip: true }) };
  }

  private get gcsStorePath(): string {
    return `${this.options.remoteStateDir}/gcs-store`;
  }

  private async clearGcsStore(signal: AbortSignal | undefined, options: { hostMaySkip?: boolean } = {}): Promise<void> {
    const host = headHostOf(this.options.settings);
    try {
      await this.agent(host).remove(this.gcsStorePath, signal);
      // The agent made the cluster's directory there as it started: `down` removes it with the rest.
      await this.noteVisited(host);
      this.storeNotCleared = false;
    } catch (error) {
      if (!(options.hostMaySkip === true && isHostUnreachable(error))) throw error;
      this.markDown(host, error);
      this.storeNotCleared = true;
    }
  }

  /**
   * The head again on its host and ports, through that host's agent, once its `ray start --block` is gone: while its
   * recorded process lives (a GCS that hangs keeps its port and the store's lock), or its host does not answer, or a
   * launch of it is on its way, nothing is restarted. What is left of its process group (its raylet waits a minute for
   * the GCS) is stopped, as terminate stops only what the node's record proves its own, and the head's last start is
   * forgotten: `ray start --head` refuses an address that its temp dir names as the last one started while a raylet on
   * the host still names it (a worker there, waiting to reconnect).
   */
  async restartHead(request: LaunchRequest, signal?: AbortSignal): Promise<Instance | undefined> {
    const host = headHostOf(this.options.settings);
    const listing = await this.listHost(host, signal);
    if ('error' in listing) return undefined;
    const node = listing.nodes.find((candidate) => candidate.name === request.name);
    const claim = await this.claims.read(request.name);
    const state = node?.state ?? (claim === undefined ? 'stopped' : unrecordedClaim(claim).state);
    if (state === 'running' || state === 'starting') return undefined;
    await this.agent(host).terminate(request.name, HEAD_REMNANT_GRACE_MS, signal);
    await this.claims.release(request.name);
    await this.agent(host).remove(`${this.nodeTempDir(request.name)}/ray_current_cluster`, signal);
    return this.launch(request, signal);
  }

  /** `down --force` of a node on a host that does not answer: its claim goes, and nothing on the host is touched. */
  async forget(name: string): Promise<void> {
    await this.claims.release(name);
  }

  /**
   * Every node: what each host says of its own, joined with the claims kept here. A host that does not answer makes
   * its claimed nodes `unknown` and the list a PartialListError naming the host, never fewer nodes.
   */
  async list(signal?: AbortSignal): Promise<Instance[]> {
    signal?.throwIfAborted();
    const [{ claims, unreadable }, listings] = await Promise.all([this.claims.all(), Promise.all(this.hosts.map((host) => this.listHost(host, signal)))]);
    const instances = new Map<string, Instance>();
    const missing: UnreadableNode[] = [...unreadable];
    const answered = new Map<string, HostListing>();
    for (const listing of listings) {
      answered.set(listing.host.address, listing);
      if ('error' in listing) continue;
      for (const node of listing.nodes) instances.set(node.name, this.toInstance(node, listing.host.address));
      missing.push(...listing.unreadable.map((node) => ({ name: node.name, reason: `on ${listing.host.address}: ${node.reason}` })));
    }
    for (const claim of claims) {
      if (instances.has(claim.name)) continue;
      const listing = answered.get(claim.host);
      if (listing === undefined) {
        instances.set(claim.name, claimInstance(claim, 'unknown'));
        missing.push({ name: claim.name, reason: `its host ${claim.host} is no longer in provider.hosts: rayfleet cannot reach it; stop its Ray by hand if it still runs there` });
      } else if ('error' in listing) {
        instances.set(claim.name, claimInstance(claim, 'unknown'));
        missing.push({ name: claim.name, reason: `${messageOf(listing.error)}: its node is unknown, not gone` });
      } else {
        instances.set(claim.name, unrecordedClaim(claim));
      }
    }
    const all = [...instances.values()].sort(byRoleGroupIndex);
    if (missing.length > 0) throw new PartialListError(all, missing);
    return all;
  }

  async *logs(name: string, options: LogOptions = {}): AsyncIterable<string> {
    const claim = await this.claims.read(name);
    const host = claim === undefined ? await this.hostHolding(name, options.signal) : this.hostNamed(claim.host);
    if (host === undefined) throw new RayfleetError('NODE_NOT_FOUND', `no node named ${name} in cluster ${this.options.cluster}`);
    const agent = this.agent(host);
    let { lines, offset } = await agent.readLog(name, { tail: options.tail ?? Number.MAX_SAFE_INTEGER }, options.signal);
    yield* lines;
    if (options.follow !== true) return;
    const { signal } = options;
    for (;;) {
      // An abort ends the wait and the following, as the end of a log the caller stopped reading.
      const waited = await delay(this.options.followIntervalMs ?? FOLLOW_INTERVAL_MS, true, { signal }).catch(() => false);
      if (!waited) return;
      ({ lines, offset } = await agent.readLog(name, { offset }, signal));
      yield* lines;
    }
  }

  /** How many more nodes of a shape the hosts that answer can hold now, up to `limit`: a group's room beyond which launches are not tried. */
  async roomFor(resources: NodeResources, limit: number, signal?: AbortSignal): Promise<number> {
    return roomFor(resources, await this.bins(signal), await this.placed(), limit);
  }

  /** Once every node is gone: the cluster's directory (records, logs, token) leaves each host that answers. */
  async cleanup(signal?: AbortSignal): Promise<void> {
    const failures: string[] = [];
    const visited = new Set(await readdir(this.visitedDir).catch(() => [] as string[]));
    await Promise.all(
      // Only hosts an agent of this cluster ever ran on have its directory: one never reached has nothing to remove.
      this.hosts.filter((host) => visited.has(encodeURIComponent(host.address))).map(async (host) => {
        try {
          await this.agent(host).removeState(signal);
          await rm(path.join(this.visitedDir, encodeURIComponent(host.address)), { force: true });
        } catch (error) {
          failures.push(`${host.address}: ${messageOf(error)}`);
        }
      }),
    );
    this.close();
    if (failures.length > 0) {
      throw new RayfleetError('HOST_UNREACHABLE', `the cluster's directory is left on ${failures.length === 1 ? 'a host' : 'hosts'} that did not answer`, {
        details: `${failures.join('\n')}\nIt holds no running node; remove ${this.options.remoteStateDir} there by hand, or run \`rayfleet down\` again once the host answers.`,
      });
    }
  }

  /** Ends every host's session (their agents exit; the nodes run on). */
  close(): void {
    for (const agent of this.agents.values()) agent.close();
    this.agents.clear();
    this.facts.clear();
  }

  private async listHost(host: SshHostSettings, signal: AbortSignal | undefined): Promise<HostListing> {
    const health = this.health.get(host.address);
    // A silent host is not dialled on every tick: each try is a new ssh process and up to its ConnectTimeout.
    if (health !== undefined && this.now() - health.triedMs < Math.min(health.untilMs - health.triedMs, LIST_RETRY_MAX_MS)) return { host, error: health.error };
    try {
      const listed = await this.agent(host).list(signal);
      this.health.delete(host.address);
      await this.noteVisited(host);
      return { host, ...listed };
    } catch (error) {
      if (!isHostUnreachable(error)) throw error;
      this.markDown(host, error);
      return { host, error };
    }
  }

  /** Ray's session files of one node on its host: a directory of its own (nodes on a host would race for socket names). */
  private nodeTempDir(name: string): string {
    return `${this.options.remoteTempDir}/${createHash('sha256').update(name).digest('hex').slice(0, 6)}`;
  }

  /** Where the hosts an agent of this cluster ran on are noted (the agent makes the cluster's directory there as it starts). */
  private get visitedDir(): string {
    return path.join(this.options.stateDir, 'ssh-hosts');
  }

  private async noteVisited(host: SshHostSettings): Promise<void> {
    if (this.visited.has(host.address)) return;
    await mkdir(this.visitedDir, { recursive: true });
    await writeFile(path.join(this.visitedDir, encodeURIComponent(host.address)), '');
    this.visited.add(host.address);
  }

  private async hostFacts(host: SshHostSettings, signal: AbortSignal | undefined): Promise<HostFacts> {
    let facts = this.facts.get(host.address);
    if (facts === undefined) {
      facts = await this.agent(host).hello(signal);
      this.facts.set(host.address, facts);
      await this.noteVisited(host);
    }
    return facts;
  }

  private async runtime(host: SshHostSettings, agent: HostAgent, facts: HostFacts, signal: AbortSignal | undefined): Promise<HostRuntime> {
    let runtime = this.runtimes.get(host.address);
    if (runtime === undefined) {
      runtime = await this.options.prepareRuntime(host, agent, facts, signal);
      this.runtimes.set(host.address, runtime);
    }
    return runtime;
  }

  /** The node's environment with the token as a file on its host, written there through the agent's stdin (never argv). */
  private async nodeEnv(host: SshHostSettings, agent: HostAgent, env: Record<string, string>, signal: AbortSignal | undefined): Promise<Record<string, string>> {
    const localPath = env.RAY_AUTH_TOKEN_PATH;
    if (localPath === undefined || localPath === '') return env;
    const content = await readFile(localPath, 'utf8');
    let written = this.tokens.get(host.address);
    if (written === undefined || written.content !== content) {
      written = { content, path: await agent.writeSecret('auth_token', content, signal) };
      this.tokens.set(host.address, written);
    }
    return { ...env, RAY_AUTH_TOKEN_PATH: written.path };
  }

  /** A worker's host: the tightest fit among hosts that answer and are not backing off. */
  private async placeWorker(request: LaunchRequest, signal: AbortSignal | undefined): Promise<SshHostSettings> {
    const bins = await this.bins(signal);
    const address = placeNode(request.resources, bins, await this.placed());
    const host = address === undefined ? undefined : this.hostNamed(address);
    if (host !== undefined) return host;
    const unusable = this.hosts.filter((candidate) => !bins.find((bin) => bin.address === candidate.address)?.usable);
    throw new RayfleetError('HOSTS_FULL', `no host of the pool has room for ${request.name} (${describeShape(request.resources)})`, {
      details:
        unusable.length === 0
          ? 'Every host is full with this cluster\'s nodes: add a host to provider.hosts, or lower the group\'s max.'
          : `Hosts not used now: ${unusable.map((candidate) => `${candidate.address} (${this.health.get(candidate.address)?.why ?? 'not answering'})`).join('; ')}.`,
    });
  }

  /** The hosts as bins: what each offers (the spec's numbers, else what it said of itself) and whether it may be used now. */
  private async bins(signal: AbortSignal | undefined): Promise<HostBin[]> {
    return Promise.all(
      this.hosts.map(async (host) => {
        const health = this.health.get(host.address);
        const backingOff = health !== undefined && health.untilMs > this.now();
        let facts: HostFacts | undefined;
        if (!backingOff && (host.cpus === undefined || host.gpus === undefined)) {
          facts = await this.hostFacts(host, signal).catch((error: unknown) => {
            if (!isHostUnreachable(error)) throw error;
            this.markDown(host, error);
            return undefined;
          });
        }
        const usable = !backingOff && (facts !== undefined || (host.cpus !== undefined && host.gpus !== undefined));
        return {
          address: host.address,
          cpus: host.cpus ?? facts?.cpus ?? 0,
          gpus: host.gpus ?? facts?.gpus ?? 0,
          memoryBytes: host.memoryBytes ?? facts?.memoryBytes,
          usable,
        };
      }),
    );
  }

  /** What holds room on the hosts: every claimed node, running, launching or unknown. */
  private async placed(): Promise<PlacedNode[]> {
    return (await this.claims.all()).claims.map((claim) => ({ host: claim.host, resources: claim.resources }));
  }

  /** A node with no claim here (a claim released while its host did not answer): found by asking the hosts. */
  private async hostHolding(name: string, signal: AbortSignal | undefined): Promise<SshHostSettings | undefined> {
    for (const listing of await Promise.all(this.hosts.map((host) => this.listHost(host, signal)))) {
      if (!('error' in listing) && listing.nodes.some((node) => node.name === name)) return listing.host;
    }
    return undefined;
  }

  private async instanceOfClaim(claim: NodeClaim, signal: AbortSignal | undefined): Promise<Instance> {
    const host = this.hostNamed(claim.host);
    if (host === undefined) return claimInstance(claim, 'unknown');
    const listing = await this.listHost(host, signal);
    if ('error' in listing) {
      throw new RayfleetError('HOST_UNREACHABLE', `${claim.name} is claimed on host ${claim.host}, which does not answer: it is not made again elsewhere`, { cause: listing.error });
    }
    const node = listing.nodes.find((candidate) => candidate.name === claim.name);
    if (node !== undefined) return this.toInstance(node, claim.host);
    return unrecordedClaim(claim);
  }

  private markDown(host: SshHostSettings, error: unknown): void {
    const previous = this.health.get(host.address);
    const failures = (previous?.failures ?? 0) + 1;
    const waitMs = Math.min(BACKOFF_MAX_MS, (this.options.backoffMs ?? DEFAULT_BACKOFF_MS) * 2 ** (failures - 1));
    this.health.set(host.address, { failures, untilMs: this.now() + waitMs, triedMs: this.now(), error, why: messageOf(error) });
    // Its session is gone; what it said of itself is asked again when it answers.
    this.options.onHostDown?.(host);
    this.facts.delete(host.address);
    this.runtimes.delete(host.address);
    this.tokens.delete(host.address);
  }

  private toInstance(node: HostNode, host: string): Instance {
    return {
      name: node.name,
      role: node.role,
      group: node.group,
      index: node.index,
      providerId: `${host}:${node.pid}`,
      state: node.state,
      address: node.address,
      createdAt: new Date(node.createdAt),
      resources: node.resources,
    };
  }
}

/** A node claimed here that its host, which answers, has no record of: a launch on its way while its launcher lives, else one that died. */
function unrecordedClaim(claim: NodeClaim): Instance {
  return claimInstance(claim, isLaunchInProgress(claim) ? 'starting' : 'failed');
}

function claimInstance(claim: NodeClaim, state: Instance['state']): Instance {
  return {
    name: claim.name,
    role: claim.role,
    group: claim.group,
    index: claim.index,
    providerId: `${claim.host}:?`,
    state,
    address: undefined,
    createdAt: new Date(claim.createdAt),
    resources: claim.resources,
  };
}

/** Where Ray on the node is reached: the head's GCS at its host, a worker at its host. */
function addressOf(role: LaunchRequest['role'], host: SshHostSettings, head: HeadPorts): string {
  return role === 'head' ? `${host.address}:${head.gcsPort}` : host.address;
}

function describeShape(resources: NodeResources): string {
  return [`${resources.cpus} CPU`, ...(resources.gpus > 0 ? [`${resources.gpus} GPU`] : [])].join(', ');
}
