// Benchmark: rayfleet against Ray's own cluster launcher on three SSH hosts each; then rayfleet's burst and idle watcher.
//
// Each side gets three sshd containers of its own (test/support/ssh-hosts.ts): Ray's launcher runs `ray stop` on its
// hosts, so it never shares them. Rounds alternate, rayfleet first, BENCH_ROUNDS of each (3):
//   up   — from the command to head + 2 workers ALIVE in the GCS. `ray up` returns once the head is up (its v1 autoscaler
//          on the head then starts the workers over ssh), `rayfleet up` once the group is at min: both are timed to the
//          same look, Ray's dashboard `/nodes?view=summary` asked on the head host over ssh every 250 ms
//          (bench/hosts-probes.ts), so neither side is credited for returning early.
//   down — from `rayfleet down` / `ray down -y` to no Ray process on any of the three hosts (pgrep over ssh).
// Ray's side is `ray up -y` of `provider: {type: local, head_ip, worker_ips}` in manual mode (min = max = 2 workers,
// the rest Ray's defaults but RAY_enable_autoscaler_v2=0 on the head: in one run Ray's v2 monitor brought up one of the
// two workers and no more; as it comes it is tried once more at the end), run by the managed venv's `ray`; the hosts get `ray` on their
// login PATH (a symlink: Docker's ENV PATH does not reach SSH sessions). rayfleet's side is the built CLI with a RAYFLEET_HOME of its own and
// `provider: {type: ssh, …, python: /opt/ray/bin/python}`, one worker group of one-CPU workers (min 2, max 4), head 0
// CPUs, watcher on (1 s ticks), rayfleet's own dashboard off (Ray's launcher has none; the e2e tests run without it).
// Then, on one more rayfleet cluster: an idle watcher over BENCH_IDLE_SECONDS (30) — its CPU per tick from
// /proc/<pid>/stat and its children sampled every 20 ms — and a burst (a job of 4 one-CPU tasks) to 2 more workers
// ALIVE in the GCS (Ray's manual mode cannot scale).
// Every command's output goes to BENCH_OUT (/tmp/rayfleet-bench-hosts); what of Ray's launcher failed is quoted from there.
// Everything started here is removed at the end, on failure, on Ctrl-C, and at BENCH_DEADLINE_MINUTES (40).
//
//   flock /tmp/rayfleet-ray.lock sh -c 'npm run build && npm run bench:hosts'
//   BENCH_ROUNDS=1 BENCH_IDLE_SECONDS=10 npm run bench:hosts
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { formatTable } from '../src/cli/format-table.js';
import { ensureRuntime } from '../src/ray/runtime.js';
import { DEFAULT_RAY_VERSION } from '../src/spec/schema.js';
import { pollUntil } from '../src/wait/poll-until.js';
import { driverFile } from '../test/support/drivers.js';
import { processesWithEnv } from '../test/support/processes.js';
import { startSshHosts, type SshHosts } from '../test/support/ssh-hosts.js';
import { aliveNodes, childCpuTicksOf, childrenOf, commandOf, cpuTicksOf, rayProcesses, sshRun } from './hosts-probes.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 30);
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_MINUTES ?? 40) * 60_000;
const OUT = process.env.BENCH_OUT ?? '/tmp/rayfleet-bench-hosts';
const UP_TIMEOUT_MS = 180_000;
/**
 * `ray down` stops the head only (it marks manual-mode workers terminated): its workers are given longer than the 60 s
 * a raylet waits for a lost GCS (RAY_gcs_rpc_server_reconnect_timeout_s); in these runs they were still there at 180 s.
 */
const DOWN_TIMEOUT_MS = 90_000;
const BURST_TIMEOUT_MS = 300_000;
const BIN = path.resolve(import.meta.dirname, '../bin/rayfleet.js');
const RAY_PATTERN = "'[/]opt/ray/|[r]ay::|[r]aylet|[g]cs_server|[h]ost_agent'";

interface Outcome {
  /** Seconds to the condition, or undefined when it was not reached in time. */
  seconds: number | undefined;
  /** Seconds until the command itself returned. */
  commandSeconds: number;
  failure?: string;
}

/** Ray's launcher's lines worth quoting, by file. */
const rayComplaints = new Map<string, string[]>();
const cleanups: Array<() => Promise<void>> = [];
let cleaning: Promise<void> | undefined;

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    // Last in, first out: clusters before the hosts they run on.
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => process.stderr.write(`clean-up: ${String(error)}\n`));
  })();
  return cleaning;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const seconds = (since: number): number => (performance.now() - since) / 1000;

async function waitAlive(hosts: SshHosts, count: number, token: () => string | undefined, timeoutMs: number): Promise<void> {
  let seen: number | undefined;
  await pollUntil(
    async () => {
      seen = await aliveNodes(hosts.configFile, hosts.addresses[0] as string, token());
      return seen !== undefined && seen >= count ? true : undefined;
    },
    { timeoutMs, intervalMs: 250, describe: () => `${count} nodes alive in Ray's dashboard on ${hosts.addresses[0]} (last seen: ${seen ?? 'no answer'})` },
  );
}

/** Polls the three hosts until none runs a process of Ray; the ones left when time is up are the failure. */
async function waitNoRay(hosts: SshHosts, started: number, commandSeconds: number): Promise<Outcome> {
  let left: string[] = [];
  try {
    await pollUntil(
      async () => {
        left = (await Promise.all(hosts.addresses.map(async (address) => (await rayProcesses(hosts.configFile, address)).map((line) => `${address}: ${line}`)))).flat();
        return left.length === 0 ? true : undefined;
      },
      { timeoutMs: DOWN_TIMEOUT_MS, intervalMs: 250, describe: () => 'no Ray process on the hosts' },
    );
    return { seconds: seconds(started), commandSeconds };
  } catch {
    return { seconds: undefined, commandSeconds, failure: `Ray processes still running ${DOWN_TIMEOUT_MS / 1000} s after the command:\n${left.slice(0, 12).join('\n')}` };
  }
}

/** What was left by a side that did not finish its down: killed, on these containers only, so the next round starts clean. */
async function killRay(hosts: SshHosts): Promise<void> {
  await Promise.all(hosts.addresses.map((address) => sshRun(hosts.configFile, address, `pkill -9 -f ${RAY_PATTERN} || true`)));
}

async function saveOutput(file: string, text: string): Promise<string> {
  const target = path.join(OUT, file);
  await writeFile(target, text);
  return target;
}

/** Lines of Ray's launcher that say something failed, quoted as they are. */
function noteComplaints(file: string, text: string): void {
  // Not the ssh option ExitOnForwardFailure, the monitor's "(no failures)" or the dashboard hint Ray always prints.
  const benign = /ExitOnForwardFailure|Recent failures:|\(no failures\)|connection to the dashboard fails/;
  const lines = text.split('\n').filter((line) => /error|fail|exception|traceback|abort|cannot|unable|refused|denied|not found/i.test(line) && !benign.test(line));
  if (lines.length > 0) rayComplaints.set(file, [...new Set(lines)].slice(0, 20));
}

// ————— rayfleet's side —————

function rayfleetSide(hosts: SshHosts, dir: string, name: string) {
  const home = path.join(dir, 'rayfleet-home');
  const specPath = path.join(dir, `${name}.yaml`);
  const stateDir = path.join(home, 'clusters', name);
  const args = (given: string[]): string[] => {
    const end = given.indexOf('--');
    return end < 0 ? [...given, '--config', specPath] : [...given.slice(0, end), '--config', specPath, ...given.slice(end)];
  };
  const run = (given: string[], timeoutMs = 600_000) =>
    execa(process.execPath, [BIN, ...args(given)], { cwd: dir, env: { ...process.env, RAYFLEET_HOME: home }, reject: false, all: true, timeout: timeoutMs });
  const token = (): string | undefined => {
    try {
      return readFileSync(path.join(stateDir, 'auth_token'), 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const watcherStatus = (): { pid?: number; lastTickAt?: string; launching?: string[] } | undefined => {
    try {
      return JSON.parse(readFileSync(path.join(stateDir, 'watcher-status.json'), 'utf8'));
    } catch {
      return undefined;
    }
  };
  return {
    home,
    token,
    watcherStatus,
    run,
    async writeSpec() {
      const hostList = hosts.addresses.map((address) => `{ address: ${address} }`).join(', ');
      await writeFile(
        specPath,
        [
          `name: ${name}`,
          `provider: { type: ssh, hosts: [${hostList}], sshConfig: ${hosts.configFile}, python: /opt/ray/bin/python }`,
          'head: { cpus: 0 }',
          'workerGroups:',
          '  - { name: worker, cpus: 1, min: 2, max: 4 }',
          'watcher: { enabled: true, interval: 1s }',
          'dashboard: { enabled: false }',
          '',
        ].join('\n'),
      );
    },
    isUp: () => existsSync(path.join(stateDir, 'cluster.json')),
    async up(label: string): Promise<Outcome> {
      const started = performance.now();
      const up = await run(['up']);
      const commandSeconds = seconds(started);
      const file = await saveOutput(`rayfleet-up-${label}.log`, up.all ?? '');
      if (up.exitCode !== 0) return { seconds: undefined, commandSeconds, failure: `rayfleet up exited ${up.exitCode} (${file}):\n${(up.all ?? '').split('\n').slice(-15).join('\n')}` };
      try {
        await waitAlive(hosts, 3, token, UP_TIMEOUT_MS);
        return { seconds: seconds(started), commandSeconds };
      } catch (error) {
        return { seconds: undefined, commandSeconds, failure: String(error) };
      }
    },
    async down(label: string): Promise<Outcome> {
      const started = performance.now();
      const down = await run(['down']);
      const commandSeconds = seconds(started);
      const file = await saveOutput(`rayfleet-down-${label}.log`, down.all ?? '');
      const outcome = await waitNoRay(hosts, started, commandSeconds);
      if (down.exitCode !== 0) return { ...outcome, seconds: undefined, failure: `rayfleet down exited ${down.exitCode} (${file}):\n${(down.all ?? '').split('\n').slice(-15).join('\n')}` };
      return outcome;
    },
    /** For the clean-up: down, then down --force, then whatever process here still carries this RAYFLEET_HOME. */
    async forceDown() {
      if (existsSync(path.join(stateDir, 'cluster.json'))) await run(['down'], 180_000);
      if (existsSync(path.join(stateDir, 'cluster.json'))) await run(['down', '--force'], 180_000);
      for (const pid of processesWithEnv('RAYFLEET_HOME', home)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
    },
  };
}

// ————— Ray's launcher's side —————

/**
 * Ray's launcher as it comes (`default`), and with the v1 autoscaler asked for on the head (`v1`): Ray 2.60's head
 * started the v2 monitor for the on-prem config, which in one run launched one of the two workers and then only logged
 * "Adding 1 nodes to satisfy min count" every 5 s (in another it brought both). The timed rounds use `v1`.
 */
type RayAutoscaler = 'v1' | 'default';

function raySide(hosts: SshHosts, dir: string, name: string, ray: string) {
  const configPath = (autoscaler: RayAutoscaler) => path.join(dir, `${name}-ray-${autoscaler}.yaml`);
  const env: Record<string, string | undefined> = { ...process.env, RAY_USAGE_STATS_ENABLED: '0' };
  delete env.RAY_ADDRESS;
  const launcher = (args: string[], autoscaler: RayAutoscaler) => execa(ray, [...args, configPath(autoscaler)], { cwd: dir, env, reject: false, all: true, timeout: 600_000 });
  return {
    async prepare() {
      for (const address of hosts.addresses) {
        // `ray` on the login PATH, as the launcher's `bash --login -c` finds it; rsync is in the test image.
        const ready = await sshRun(hosts.configFile, address, 'ln -sf /opt/ray/bin/ray /usr/local/bin/ray && bash --login -c "command -v ray && command -v rsync"');
        if (ready.exitCode !== 0) throw new Error(`readying ${address} for Ray's launcher: ${ready.stderr}${ready.stdout}`);
      }
      for (const autoscaler of ['v1', 'default'] as const) {
        await writeFile(
          configPath(autoscaler),
          [
            `cluster_name: ${name}`,
            'provider:',
            '  type: local',
            `  head_ip: ${hosts.addresses[0]}`,
            `  worker_ips: [${hosts.addresses.slice(1).join(', ')}]`,
            'auth:',
            '  ssh_user: root',
            // The hosts' key (the head copies it to reach the workers); Ray's launcher runs ssh with options of its own.
            `  ssh_private_key: ${path.join(path.dirname(hosts.configFile), 'id_ed25519')}`,
            'min_workers: 2',
            'max_workers: 2',
            // Ray's default head commands, with the autoscaler's version said explicitly for `v1`.
            ...(autoscaler === 'v1'
              ? ['head_start_ray_commands:', '  - ray stop', '  - ulimit -c unlimited; RAY_enable_autoscaler_v2=0 ray start --head --port=6379 --autoscaling-config=~/ray_bootstrap_config.yaml']
              : []),
            '',
          ].join('\n'),
        );
      }
    },
    async up(label: string, autoscaler: RayAutoscaler = 'v1', timeoutMs = UP_TIMEOUT_MS): Promise<Outcome> {
      const started = performance.now();
      const up = await launcher(['up', '-y', '--no-config-cache', '--disable-usage-stats'], autoscaler);
      const commandSeconds = seconds(started);
      const file = await saveOutput(`ray-up-${label}.log`, up.all ?? '');
      noteComplaints(file, up.all ?? '');
      let outcome: Outcome;
      if (up.exitCode !== 0) {
        outcome = { seconds: undefined, commandSeconds, failure: `ray up exited ${up.exitCode} (${file}):\n${(up.all ?? '').split('\n').slice(-15).join('\n')}` };
      } else {
        try {
          await waitAlive(hosts, 3, () => undefined, timeoutMs);
          outcome = { seconds: seconds(started), commandSeconds };
        } catch (error) {
          outcome = { seconds: undefined, commandSeconds, failure: String(error) };
        }
      }
      // The autoscaler on the head starts the workers: its logs say what failed there.
      const monitor = await sshRun(hosts.configFile, hosts.addresses[0] as string, 'cd /tmp/ray/session_latest/logs 2>/dev/null && for f in monitor.log monitor.out monitor.err; do echo "==> $f"; cat "$f" 2>/dev/null; done');
      const monitorFile = await saveOutput(`ray-monitor-${label}.log`, monitor.stdout);
      noteComplaints(monitorFile, monitor.stdout);
      return outcome;
    },
    async down(label: string, autoscaler: RayAutoscaler = 'v1'): Promise<Outcome> {
      const started = performance.now();
      const down = await launcher(['down', '-y'], autoscaler);
      const commandSeconds = seconds(started);
      const file = await saveOutput(`ray-down-${label}.log`, down.all ?? '');
      noteComplaints(file, down.all ?? '');
      const outcome = await waitNoRay(hosts, started, commandSeconds);
      if (down.exitCode !== 0) return { ...outcome, seconds: undefined, failure: `ray down exited ${down.exitCode} (${file})` };
      return outcome;
    },
    /**
     * What Ray's launcher keeps on this machine for the cluster, only this cluster's: lock and state files under Ray's temp
     * dir, and the provider config `ray down` caches in /tmp/ray-config-<hash> (it has no --no-config-cache).
     */
    async forget() {
      for (const suffix of ['lock', 'state']) await rm(path.join('/tmp/ray', `cluster-${name}.${suffix}`), { force: true });
      for (const entry of await readdir('/tmp').catch(() => [])) {
        if (!entry.startsWith('ray-config-')) continue;
        const file = path.join('/tmp', entry);
        if ((await readFile(file, 'utf8').catch(() => '')).includes(`"cluster_name": "${name}"`)) await rm(file, { force: true });
      }
    },
  };
}

// ————— rayfleet alone: the idle watcher and the burst —————

interface IdleResult {
  seconds: number;
  ticks: number;
  /** Status files written in the window: not one a tick when idle. */
  statusWrites: number;
  cpuMsPerTick: number;
  childrenAtStart: string[];
  newChildren: string[];
  childCpuMs: number;
}

async function measureIdle(side: ReturnType<typeof rayfleetSide>, upAtMs: number): Promise<IdleResult> {
  const hz = Number((await execa('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  // Idle: at min, nothing launching, a tick of this cluster's watcher written (the file of an earlier one can outlive it).
  const status = await pollUntil(
    async () => {
      const current = side.watcherStatus();
      const live = current?.pid !== undefined && existsSync(`/proc/${current.pid}`) && Date.parse(current.lastTickAt ?? '') > upAtMs;
      return live && (current?.launching ?? []).length === 0 ? current : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250, describe: () => "this cluster's watcher idle (a tick written, nothing launching)" },
  );
  const pid = status.pid as number;
  const childrenAtStart = childrenOf(pid);
  const seen = new Set(childrenAtStart);
  const newChildren: string[] = [];
  const tickTimes = new Set<string>();
  const cpuBefore = cpuTicksOf(pid);
  const childCpuBefore = childCpuTicksOf(pid);
  const started = performance.now();
  let lastTick = side.watcherStatus()?.lastTickAt;
  while (seconds(started) < IDLE_SECONDS) {
    for (const child of childrenOf(pid)) {
      if (seen.has(child)) continue;
      seen.add(child);
      newChildren.push(`${child} ${commandOf(child)}`);
    }
    const tick = side.watcherStatus()?.lastTickAt;
    if (tick !== undefined && tick !== lastTick) tickTimes.add(tick);
    lastTick = tick;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const cpuTicks = cpuTicksOf(pid) - cpuBefore;
  const window = seconds(started);
  // Ticks by the clock (interval 1 s): an idle watcher does not rewrite its status file every tick (2 writes in 30 s
  // were seen), so the file's lastTickAt is printed beside it, not divided by.
  const ticks = Math.floor(window);
  return {
    seconds: window,
    ticks,
    statusWrites: tickTimes.size,
    cpuMsPerTick: (cpuTicks * 1000) / hz / Math.max(1, ticks),
    childrenAtStart: childrenAtStart.map((child) => `${child} ${commandOf(child)}`),
    newChildren,
    childCpuMs: ((childCpuTicksOf(pid) - childCpuBefore) * 1000) / hz,
  };
}

/** From `job submit` of 4 one-CPU tasks (2 workers at min, head 0 CPUs) to 2 more workers alive in the GCS. */
async function measureBurst(side: ReturnType<typeof rayfleetSide>, hosts: SshHosts): Promise<Outcome & { job: string }> {
  const started = performance.now();
  const job = side.run(['job', 'submit', '--working-dir', path.dirname(driverFile('burst-job.py')), '--', 'python', 'burst-job.py', '4', '45'], BURST_TIMEOUT_MS);
  let outcome: Outcome;
  try {
    await waitAlive(hosts, 5, side.token, BURST_TIMEOUT_MS);
    outcome = { seconds: seconds(started), commandSeconds: 0 };
  } catch (error) {
    outcome = { seconds: undefined, commandSeconds: 0, failure: String(error) };
  }
  const ended = await job;
  await saveOutput('rayfleet-burst-job.log', ended.all ?? '');
  const result = /RESULT \d+/.exec(ended.all ?? '')?.[0] ?? `no RESULT (exit ${ended.exitCode})`;
  return { ...outcome, commandSeconds: seconds(started), job: result };
}

// ————— the table —————

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function summary(outcomes: Outcome[], pick: (outcome: Outcome) => number | undefined = (outcome) => outcome.seconds): { text: string; median: number | undefined } {
  const values = outcomes.map(pick).filter((value): value is number => value !== undefined);
  const failed = outcomes.length - values.length;
  if (values.length === 0) return { text: `failed ${failed}/${outcomes.length}`, median: undefined };
  const text = `${median(values).toFixed(1)} (${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})${failed > 0 ? `, failed ${failed}/${outcomes.length}` : ''}`;
  return { text, median: median(values) };
}

const ratio = (ours: number | undefined, theirs: number | undefined): string => (ours === undefined || theirs === undefined ? '-' : (ours / theirs).toFixed(2));

async function main(): Promise<void> {
  if ((await execa('sh', ['-c', 'command -v rsync'], { reject: false })).exitCode !== 0) throw new Error("Ray's launcher needs rsync on this machine too: apt-get install -y rsync");
  const ray = (await ensureRuntime({ rayVersion: DEFAULT_RAY_VERSION, onProgress: log })).ray;
  await mkdir(OUT, { recursive: true });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rf-bench-hosts-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const tag = Math.random().toString(36).slice(2, 7);
  log(`hosts: 3 for rayfleet, 3 for Ray's launcher; output in ${OUT}`);
  const rfHosts = await startSshHosts(`rfbh${tag}a`, 3);
  cleanups.push(() => rfHosts.remove());
  const rayHosts = await startSshHosts(`rfbh${tag}b`, 3);
  cleanups.push(() => rayHosts.remove());
  const rf = rayfleetSide(rfHosts, dir, `rfb${tag}`);
  cleanups.push(() => rf.forceDown());
  const rl = raySide(rayHosts, dir, `rayb${tag}`, ray);
  cleanups.push(() => rl.forget());
  await rf.writeSpec();
  await rl.prepare();

  const results = { rfUp: [] as Outcome[], rfDown: [] as Outcome[], rayUp: [] as Outcome[], rayDown: [] as Outcome[] };
  const failures: string[] = [];
  const record = (side: string, outcome: Outcome): Outcome => {
    log(`  ${side}: ${outcome.seconds === undefined ? 'FAILED' : `${outcome.seconds.toFixed(1)} s`} (command returned after ${outcome.commandSeconds.toFixed(1)} s)`);
    if (outcome.failure !== undefined) failures.push(`${side}: ${outcome.failure}`);
    return outcome;
  };
  for (let round = 1; round <= ROUNDS; round += 1) {
    log(`round ${round}/${ROUNDS}`);
    results.rfUp.push(record('rayfleet up', await rf.up(String(round))));
    results.rfDown.push(record('rayfleet down', await rf.down(String(round))));
    if (results.rfDown.at(-1)?.seconds === undefined) await killRay(rfHosts);
    results.rayUp.push(record('ray up', await rl.up(String(round))));
    results.rayDown.push(record('ray down', await rl.down(String(round))));
    if (results.rayDown.at(-1)?.seconds === undefined) await killRay(rayHosts);
  }

  log('rayfleet alone: idle watcher, then a burst');
  const upAtMs = Date.now();
  const up = record('rayfleet up', await rf.up('idle-burst'));
  let idle: IdleResult | undefined;
  let burst: (Outcome & { job: string }) | undefined;
  if (up.seconds !== undefined) {
    // Each on its own: one failing leaves the table and the other's number.
    idle = await measureIdle(rf, upAtMs).catch((error: unknown) => void failures.push(`idle watcher: ${String(error)}`));
    burst = await measureBurst(rf, rfHosts).catch((error: unknown) => void failures.push(`burst: ${String(error)}`));
    log(`  burst: ${burst?.seconds?.toFixed(1) ?? 'FAILED'} s to 2 more workers; ${burst?.job ?? ''}`);
    if (burst?.failure !== undefined) failures.push(`burst: ${burst.failure}`);
  }
  record('rayfleet down', await rf.down('idle-burst'));

  const out = process.stdout;
  const rfUp = summary(results.rfUp);
  const rayUp = summary(results.rayUp);
  const rfDown = summary(results.rfDown);
  const rayDown = summary(results.rayDown);
  out.write(`\nrayfleet against Ray's cluster launcher (manual mode), 3 SSH hosts each (containers on ${os.cpus().length} cores), ${ROUNDS} rounds alternating\n`);
  out.write('seconds, median (min–max)\n');
  out.write(
    `${formatTable(
      ['case', 'rayfleet', "Ray's launcher", 'rayfleet / Ray'],
      [
        ['up: command → head + 2 workers ALIVE in the GCS', rfUp.text, rayUp.text, ratio(rfUp.median, rayUp.median)],
        ['  of which the command itself (up returned)', summary(results.rfUp, (outcome) => outcome.commandSeconds).text, summary(results.rayUp, (outcome) => outcome.commandSeconds).text, '-'],
        ['down: command → no Ray process on any host', rfDown.text, rayDown.text, ratio(rfDown.median, rayDown.median)],
        ['  of which the command itself (down returned)', summary(results.rfDown, (outcome) => outcome.commandSeconds).text, summary(results.rayDown, (outcome) => outcome.commandSeconds).text, '-'],
      ],
    )}\n`,
  );
  const goal = rfUp.median !== undefined && rayUp.median !== undefined ? (rfUp.median <= rayUp.median / 2 ? 'met' : 'NOT met') : 'not measured';
  out.write(`goal: rayfleet's up at most half of Ray's: ${goal}\n\n`);
  out.write(`burst (job of 4 one-CPU tasks, 2 workers at min, head 0 CPUs): ${burst?.seconds === undefined ? 'failed' : `${burst.seconds.toFixed(1)} s`} from \`job submit\` to 2 more workers ALIVE in the GCS (${burst?.job ?? 'not run'}); Ray's manual mode cannot scale\n`);
  if (idle !== undefined) {
    out.write(
      `idle watcher on the 3-host cluster: ${idle.cpuMsPerTick.toFixed(1)} ms CPU per tick (utime+stime over ${idle.seconds.toFixed(0)} s, ${idle.ticks} ticks at 1 s; ${idle.statusWrites} status-file writes seen); ` +
        `children at start ${idle.childrenAtStart.length}, new children in the window ${idle.newChildren.length}, CPU of children reaped ${idle.childCpuMs.toFixed(0)} ms\n`,
    );
    for (const child of idle.childrenAtStart) out.write(`  child: ${child}\n`);
    for (const child of idle.newChildren) out.write(`  NEW child: ${child}\n`);
  }

  log("Ray's launcher as it comes (the v2 autoscaler on the head): once, untimed, given 120 s for its workers");
  const asItComes = await rl.up('default', 'default', 120_000);
  const aliveAsItComes = await aliveNodes(rayHosts.configFile, rayHosts.addresses[0] as string, undefined);
  const asItComesText =
    asItComes.seconds === undefined
      ? `head + 2 workers not ALIVE within 120 s of \`ray up\` returning (${aliveAsItComes ?? 'no answer'} nodes ALIVE then, head included)`
      : `head + 2 workers ALIVE after ${asItComes.seconds.toFixed(1)} s`;
  if (asItComes.failure !== undefined) failures.push(`ray up with Ray's defaults: ${asItComes.failure}`);
  if ((await rl.down('default', 'default')).seconds === undefined) await killRay(rayHosts);
  out.write(`\nRay's launcher with its defaults (the head's v2 autoscaler), once: ${asItComesText}\n`);
  if (failures.length > 0) {
    out.write('\nfailures:\n');
    for (const failure of failures) out.write(`- ${failure}\n`);
  }
  if (rayComplaints.size > 0) {
    out.write("\nRay's launcher, lines that say something failed (verbatim):\n");
    for (const [file, lines] of rayComplaints) {
      out.write(`${file}:\n`);
      for (const line of lines) out.write(`  ${line}\n`);
    }
  }
}

const deadline = setTimeout(() => {
  log(`bench:hosts: over its deadline (${DEADLINE_MS / 60_000} min): cleaning up`);
  void cleanUp().finally(() => process.exit(4));
}, DEADLINE_MS);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // `on`, not `once`: tsx's parent sends the signal on again, and with no listener left tsx's own exits at once.
  process.on(signal, () => {
    log(`bench:hosts: ${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}
try {
  await main();
} catch (error) {
  process.exitCode = 1;
  log(`bench:hosts failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await cleanUp();
  clearTimeout(deadline);
}
