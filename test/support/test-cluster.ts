// A test's cluster: its spec written in a sandbox, the built CLI bound to that spec, and its `down` for the end.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findFreePorts } from '../../src/net/ports.js';
import { watchHead, type HeadWatch } from './head-watch.js';
import { clusterPaths } from '../../src/fleet/state-dir.js';
import { processesHoldingFilesUnder, processesWithEnv } from './processes.js';
import { createSandbox, type CliResult, type RunOptions, type Sandbox } from './run-cli.js';

/** What a test says of its cluster; the rest is a small cluster on this machine that starts only what it tests. */
export interface TestSpec {
  name: string;
  /** The `worker` group's min (0 unless said). */
  workers?: number;
  /** The `worker` group's max (6 unless said). */
  max?: number;
  /** Groups beside `worker`, as YAML flow mappings. */
  extraGroups?: string[];
  /** Groups instead of `worker`, as YAML flow mappings. */
  groups?: string[];
  /** The head's CPUs (0 unless said: work goes to workers). */
  headCpus?: number;
  /** head.faultTolerance (off unless said). */
  headFaultTolerance?: boolean;
  /**
   * The head's ports: `free` (the default) chooses the GCS, dashboard and client ports free now, `free+serve` Serve's as
   * well, each time the spec is written; `unset` leaves them to rayfleet (or to the provider); a number sets only the GCS's.
   */
  ports?: 'free' | 'free+serve' | 'unset' | { gcsPort: number };
  /** A provider other than `local`, as a YAML flow mapping. */
  provider?: string;
  /** Tests of the watcher say how it runs; the others keep it off so they see only what they did. */
  watcher?: string;
}

export interface HeadPorts {
  gcsPort: number;
  dashboardPort: number;
  clientPort: number;
  servePort?: number;
}

export interface TestCluster {
  readonly name: string;
  readonly sandbox: Sandbox;
  /** The spec file every command here is given. */
  readonly specPath: string;
  /**
   * Aborted once a local cluster's head is lost (its process gone), with the GCS log's tail as the reason: a wait given it
   * ends then, and every later test of the file fails at once (test/support/head-watch.ts).
   */
  readonly headLost: AbortSignal;
  /** The watch of the head: a test that kills the head on purpose stops it first and resumes it after. */
  readonly headWatch: HeadWatch;
  /** The head's ports as the spec was last written with them (none when left to rayfleet). */
  readonly ports: HeadPorts | undefined;
  /** The args with `--config <spec>` before the `--` that starts an entrypoint, where rayfleet reads it as its own. */
  args(args: string[]): string[];
  run(args: string[], options?: RunOptions): Promise<CliResult>;
  /** Runs with `--json` and parses stdout, failing with the command's stderr if it did not succeed. */
  json<T>(args: string[]): Promise<T>;
  /** `up`, failing with its stderr unless it exits 0. */
  up(args?: string[]): Promise<CliResult>;
  /** The environment `rayfleet env` gives a driver. */
  driverEnv(): Promise<Record<string, string>>;
  /** Writes the spec again with these changes; ports chosen free are chosen again. */
  writeSpec(changes?: Partial<TestSpec>): Promise<void>;
  /** The processes rayfleet started for this sandbox (nodes, the watcher, the dashboard), known by their RAYFLEET_HOME, and any process holding a file open in the cluster's Ray temp dir (Ray's titled processes lose their environment). */
  leftOver(): number[];
  /** `down`, for afterAll: whatever a failed test left running is stopped here, never by `ray stop`. */
  down(): Promise<CliResult>;
}

/**
 * Writes the spec in a sandbox of its own (or in `options.sandbox`, beside other clusters) and binds the CLI to it.
 * `options.env` goes to every command, read when each runs: a test may add to it on the way.
 */
export async function createTestCluster(spec: TestSpec, options: { sandbox?: Sandbox; env?: Record<string, string> } = {}): Promise<TestCluster> {
  const sandbox = options.sandbox ?? (await createSandbox());
  const specPath = path.join(sandbox.dir, `${spec.name}.yaml`);
  let current = spec;
  let ports: HeadPorts | undefined;
  const args = (given: string[]): string[] => {
    const end = given.indexOf('--');
    return end < 0 ? [...given, '--config', specPath] : [...given.slice(0, end), '--config', specPath, ...given.slice(end)];
  };
  const run = (given: string[], runOptions: RunOptions = {}): Promise<CliResult> => sandbox.run(args(given), { ...runOptions, env: { ...options.env, ...runOptions.env } });
  const json = <T>(given: string[]): Promise<T> => sandbox.json<T>(args(given), { env: { ...options.env } });
  // Only a local head is a process here to look at; other backends' files go by their own checks.
  const stateDir = path.join(sandbox.env.RAYFLEET_HOME ?? '', 'clusters', spec.name);
  const headWatch = watchHead(spec.name, stateDir);
  if (spec.provider !== undefined && !/^\{?\s*(type:\s*)?local\b/.test(spec.provider)) headWatch.stop();
  const cluster: TestCluster = {
    name: spec.name,
    sandbox,
    specPath,
    headLost: headWatch.lost,
    headWatch,
    get ports() {
      return ports;
    },
    args,
    run,
    json,
    async up(upArgs = []) {
      const up = await run(['up', ...upArgs]);
      if (up.exitCode !== 0) throw new Error(`up of ${spec.name} exited ${up.exitCode}: ${up.stderr}`);
      return up;
    },
    driverEnv: () => json<Record<string, string>>(['env']),
    async writeSpec(changes = {}) {
      current = { ...current, ...changes };
      ports = await choosePorts(current.ports ?? 'free');
      await writeFile(specPath, specText(current, ports));
    },
    leftOver: () => {
      const byEnvironment = processesWithEnv('RAYFLEET_HOME', sandbox.env.RAYFLEET_HOME ?? '');
      const byOpenFile = processesHoldingFilesUnder(clusterPaths(stateDir).rayTempDir);
      return [...new Set([...byEnvironment, ...byOpenFile])].sort((a, b) => a - b);
    },
    down: () => run(['down']),
  };
  await cluster.writeSpec();
  return cluster;
}

async function choosePorts(ports: NonNullable<TestSpec['ports']>): Promise<HeadPorts | undefined> {
  if (ports === 'unset' || typeof ports === 'object') return undefined;
  const [gcsPort, dashboardPort, clientPort, servePort] = (await findFreePorts(ports === 'free+serve' ? 4 : 3)) as [number, number, number, number?];
  return { gcsPort, dashboardPort, clientPort, ...(servePort === undefined ? {} : { servePort }) };
}

function specText(spec: TestSpec, ports: HeadPorts | undefined): string {
  const setPorts = ports ?? (typeof spec.ports === 'object' ? spec.ports : {});
  const head = [
    `cpus: ${spec.headCpus ?? 0}`,
    'objectStoreMemory: 100MB',
    ...Object.entries(setPorts).map(([field, port]) => `${field}: ${port}`),
    ...(spec.headFaultTolerance === true ? ['faultTolerance: true'] : []),
  ];
  const groups = spec.groups ?? [`{ name: worker, cpus: 1, objectStoreMemory: 100MB, min: ${spec.workers ?? 0}, max: ${spec.max ?? 6} }`, ...(spec.extraGroups ?? [])];
  return [
    `name: ${spec.name}`,
    ...(spec.provider === undefined ? [] : [`provider: ${spec.provider}`]),
    `head: { ${head.join(', ')} }`,
    'workerGroups:',
    ...groups.map((group) => `  - ${group}`),
    `watcher: ${spec.watcher ?? '{ enabled: false }'}`,
    // Only the dashboard's own tests start it.
    'dashboard: { enabled: false }',
    '',
  ].join('\n');
}
