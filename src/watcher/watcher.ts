// The watcher: each tick observes the cluster, plans with the pure planner, and acts, recording every step and its reason.
import { rename, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { RayfleetError, messageOf } from '../errors.js';
import type { Fleet } from '../fleet/fleet.js';
import { tryLock, unlock } from '../fs/directory-lock.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { DashboardClient } from '../ray/dashboard-client.js';
import { DEFAULT_GROUP, headName } from '../providers/node-names.js';
import type { WatcherSpec, WorkerGroupSpec } from '../spec/schema.js';
import { addFailure, backoffUntilByGroup, failuresByGroup, lastScaleUpMs, type GroupFailures } from './history.js';
import type { Observation } from './observation.js';
import { observeCluster } from './observe.js';
import { planScaling, type Plan, type PlannerHistory } from './planner.js';
import { describeShape } from './resource-shapes.js';
import type { WatcherMetrics } from './watcher-metrics.js';
import { watcherPaths, type WatcherStatus } from './watcher-status.js';

export interface WatcherOptions {
  fleet: Fleet;
  /** The watcher's settings: from the spec, the WATCHER_* variables and the flags. */
  settings: WatcherSpec;
  logger?: Logger;
  metrics?: WatcherMetrics;
  /** A launch not in Ray after this long has failed (per provider: local nodes start in seconds). */
  launchTimeoutMs?: number;
}

const DEFAULT_LAUNCH_TIMEOUT_MS = 120_000;
/** Ticks that cannot see the cluster slow down to this at most. */
const MAX_TICK_BACKOFF_MS = 30_000;

export class Watcher {
  private readonly fleet: Fleet;
  private readonly settings: WatcherSpec;
  private readonly logger: Logger;
  private readonly launchTimeoutMs: number;
  private readonly startedAt = new Date();
  private failures = new Map<string, GroupFailures>();
  private lastScaleUpAtMs: number | undefined;
  private previousPhases = new Map<string, string>();
  private lastProblems = '';
  private lastInfeasible = '';
  private failedTicks = 0;
  private dashboardClient: DashboardClient | undefined;

  constructor(private readonly options: WatcherOptions) {
    this.fleet = options.fleet;
    this.settings = options.settings;
    this.logger = options.logger ?? silentLogger;
    this.launchTimeoutMs = options.launchTimeoutMs ?? DEFAULT_LAUNCH_TIMEOUT_MS;
  }

  /** Runs until the signal aborts or the cluster goes down. One watcher per cluster: a second one fails with LOCK_HELD. */
  async run(signal: AbortSignal): Promise<void> {
    const paths = watcherPaths(this.fleet.paths.root);
    const lock = await tryLock(paths.lock);
    if (!lock.acquired) {
      throw new RayfleetError('LOCK_HELD', `a watcher for cluster ${this.fleet.name} already runs (pid ${lock.holderPid})`, {
        details: `Stop it with \`rayfleet watcher stop -c ${this.fleet.name}\`, or see it with \`rayfleet watcher status -c ${this.fleet.name}\`.`,
      });
    }
    try {
      await this.restoreHistory();
      await this.fleet.record({ type: 'watcher', reason: `started (pid ${process.pid}, every ${this.settings.intervalMs} ms)`, data: { pid: process.pid } });
      while (!signal.aborted) {
        if (!(await this.fleet.exists())) {
          await this.fleet.record({ type: 'watcher', reason: 'the cluster is down: stopping' });
          break;
        }
        await this.tick(signal);
        const wait = this.failedTicks === 0 ? this.settings.intervalMs : Math.min(MAX_TICK_BACKOFF_MS, this.settings.intervalMs * 2 ** this.failedTicks);
        await delay(wait, undefined, { signal }).catch(() => undefined);
      }
    } finally {
      await this.fleet.record({ type: 'watcher', reason: `stopped (pid ${process.pid})` });
      await unlock(paths.lock);
    }
  }

  /** One observe → plan → act. Never throws: what fails is recorded and retried next tick. */
  async tick(signal?: AbortSignal): Promise<void> {
    const started = performance.now();
    const observation = await observeCluster(
      {
        provider: await this.fleet.provider(),
        gcs: await this.fleet.gcs(),
        dashboard: await this.dashboard(),
        headName: headName(this.fleet.name),
        defaultGroup: this.defaultGroup(),
      },
      signal,
    );
    // Stopping mid-tick: a look cut short by the abort is not a view to act on.
    if (signal?.aborted === true) return;
    await this.noteProblems(observation);
    await this.noteRegistrations(observation);
    const plan = planScaling(observation, { groups: this.fleet.spec.workerGroups, watcher: this.settings, launchTimeoutMs: this.launchTimeoutMs }, this.history());
    await this.noteInfeasible(plan, observation);
    await this.act(plan, observation);
    const seconds = (performance.now() - started) / 1000;
    this.options.metrics?.observe(observation, plan, this.fleet.spec.workerGroups.map((group) => group.name));
    this.options.metrics?.tickSeconds.observe(seconds);
    await this.writeStatus(observation, plan, seconds).catch((error: unknown) => this.logger.warn({ err: error }, 'cannot write the watcher status'));
  }

  private history(): PlannerHistory {
    return { lastScaleUpAtMs: this.lastScaleUpAtMs, backoffUntilMs: backoffUntilByGroup(this.failures) };
  }

  /** Cooldown and back-off survive a restart: they are read back from the journal. */
  private async restoreHistory(): Promise<void> {
    const { events } = await this.fleet.journal.read();
    this.failures = failuresByGroup(events);
    this.lastScaleUpAtMs = lastScaleUpMs(events);
  }

  private async act(plan: Plan, observation: Observation): Promise<void> {
    const numbers = { ...plan.numbers, source: observation.source };
    for (const cleanup of plan.cleanups) {
      if (cleanup.failedLaunch) await this.launchFailed(cleanup.group, cleanup.name, cleanup.reason);
      await this.safely(`clean up ${cleanup.name}`, () => this.fleet.terminate(cleanup.name, cleanup.reason));
    }
    for (const drain of plan.drains) {
      await this.safely(`drain ${drain.name}`, async () => {
        const result = await (await this.fleet.gcs()).drainNode(drain.nodeId, 'IDLE_TERMINATION', `rayfleet watcher: ${drain.reason}`);
        this.options.metrics?.drains.inc({ group: drain.group, accepted: String(result.accepted) });
        if (!result.accepted) {
          // Ray knows better than our snapshot: the node got work. It stays.
          await this.fleet.record({ type: 'drain-rejected', node: drain.name, group: drain.group, reason: result.rejectionReason, data: { ...numbers, idleMs: drain.idleMs } });
          return;
        }
        await this.fleet.record({ type: 'drain', node: drain.name, group: drain.group, reason: drain.reason, data: { ...numbers, idleMs: drain.idleMs } });
        await this.fleet.terminate(drain.name, 'drained: idle');
      });
    }
    await Promise.all(
      plan.launches.map(async (launch) => {
        if (launch.cause !== 'min') {
          this.lastScaleUpAtMs = observation.atMs;
          await this.fleet.record({ type: 'scale-up', group: launch.group, reason: launch.reason, data: { ...numbers, count: launch.count } });
        }
        try {
          await this.fleet.launchWorkers(this.fleet.group(launch.group), launch.count, `watcher: ${launch.reason}`, undefined);
          this.options.metrics?.launches.inc({ group: launch.group, cause: launch.cause }, launch.count);
        } catch (error) {
          // The fleet recorded the launch-failed event with the provider's error; the group backs off.
          this.bumpFailures(launch.group, messageOf(error));
          this.options.metrics?.launchFailures.inc({ group: launch.group });
        }
      }),
    );
  }

  private async launchFailed(group: string, node: string, reason: string): Promise<void> {
    this.bumpFailures(group, reason);
    this.options.metrics?.launchFailures.inc({ group });
    await this.fleet.record({ type: 'launch-failed', node, group, reason, data: { failures: this.failures.get(group)?.failures ?? 1 } });
  }

  private bumpFailures(group: string, reason: string): void {
    addFailure(this.failures, group, Date.now(), reason);
  }

  /** Records a worker's first tick alive in Ray, which also ends its group's back-off. */
  private async noteRegistrations(observation: Observation): Promise<void> {
    for (const worker of observation.workers) {
      if (this.previousPhases.get(worker.name) === 'launching' && worker.phase === 'registered') {
        this.failures.delete(worker.group);
        await this.fleet.record({ type: 'registered', node: worker.name, group: worker.group, reason: 'alive in the GCS', data: { waitedMs: observation.atMs - worker.createdAtMs } });
      }
    }
    if (observation.rayOk) this.previousPhases = new Map(observation.workers.map((worker) => [worker.name, worker.phase]));
  }

  private async noteProblems(observation: Observation): Promise<void> {
    const problems = observation.problems.join('; ');
    this.failedTicks = observation.providerOk && observation.rayOk ? 0 : this.failedTicks + 1;
    if (this.failedTicks > 0) this.options.metrics?.tickFailures.inc();
    if (problems === this.lastProblems) return;
    this.lastProblems = problems;
    await this.fleet.record(
      problems === ''
        ? { type: 'watcher', reason: 'sees the cluster again through the GCS', data: { source: observation.source } }
        : { type: 'failure', reason: `cannot see the cluster fully: ${problems}; using ${observation.source}`, data: { source: observation.source, providerOk: observation.providerOk, rayOk: observation.rayOk } },
    );
  }

  private async noteInfeasible(plan: Plan, observation: Observation): Promise<void> {
    const text = [...new Set(plan.infeasible.map(describeShape))].join(', ');
    if (text === this.lastInfeasible) return;
    this.lastInfeasible = text;
    if (text !== '') await this.fleet.record({ type: 'infeasible', reason: `no worker group can hold ${text}`, data: { shapes: plan.infeasible.length, source: observation.source } });
  }

  private async safely(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      await this.fleet.record({ type: 'failure', reason: `${what}: ${messageOf(error)}` });
    }
  }

  private async dashboard(): Promise<DashboardClient> {
    this.dashboardClient ??= new DashboardClient({
      baseUrl: this.settings.dashboardMetricApi?.replace(/\/api\/?$/, '') ?? (await this.fleet.endpoints()).dashboardUrl,
      authToken: await this.fleet.authToken(),
    });
    return this.dashboardClient;
  }

  private defaultGroup(): WorkerGroupSpec {
    const groups = this.fleet.spec.workerGroups;
    return groups.find((group) => group.name === DEFAULT_GROUP) ?? (groups[0] as WorkerGroupSpec);
  }

  private async writeStatus(observation: Observation, plan: Plan, tickSeconds: number): Promise<void> {
    const history = this.history();
    const status: WatcherStatus = {
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      lastTickAt: new Date(observation.atMs).toISOString(),
      tickSeconds,
      source: observation.source,
      problems: observation.problems,
      settings: this.settings,
      demand: observation.demand,
      groups: this.fleet.spec.workerGroups.map((group) => {
        const workers = observation.workers.filter((worker) => worker.group === group.name);
        const backoffUntil = history.backoffUntilMs[group.name];
        return {
          name: group.name,
          min: group.min,
          max: group.max,
          registered: workers.filter((worker) => worker.phase === 'registered').length,
          launching: workers.filter((worker) => worker.phase === 'launching').length,
          draining: workers.filter((worker) => worker.phase === 'draining').length,
          backoffUntil: backoffUntil !== undefined && backoffUntil > observation.atMs ? new Date(backoffUntil).toISOString() : undefined,
        };
      }),
      launching: observation.workers.filter((worker) => worker.phase === 'launching').map((worker) => worker.name),
      infeasible: plan.infeasible,
      withheld: plan.withheld,
      lastPlan: { launches: plan.launches, drains: plan.drains, cleanups: plan.cleanups },
    };
    const file = watcherPaths(this.fleet.paths.root).status;
    await writeFile(`${file}.tmp`, JSON.stringify(status, null, 2));
    await rename(`${file}.tmp`, file);
  }
}

