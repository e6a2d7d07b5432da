// The watcher: each tick observes the cluster, plans with the pure planner, and acts, recording every step and its reason.
import { RayfleetError, messageOf } from '../errors.js';
import { tryLock, unlock } from '../lock/directory-lock.js';
import type { WithheldCause } from './withheld.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { headName } from '../providers/node-names.js';
import type { ClusterSpec } from '../spec/schema.js';
import { defaultGroup } from '../spec/worker-groups.js';
import { systemClock, type Clock } from '../time/clock.js';
import { addFailure, backoffUntilByGroup, drainedNodes, failuresByGroup, lastScaleUpMs, registrationTimes, type GroupFailures } from './history.js';
import type { Observation, WorkerPhase, WorkerView } from './observation.js';
import { countGroups } from './group-counts.js';
import { HeadRecovery } from './head-recovery.js';
import { observeCluster } from './observe.js';
import { planScaling, type Plan, type PlannerHistory } from './planner.js';
import { describeShape } from './resource-shapes.js';
import { withheldCause } from './withheld.js';
import type { WatcherCluster } from './watcher-cluster.js';
import type { WatcherMetrics } from './watcher-metrics.js';
import { watcherPaths, type WatcherStatus } from './watcher-status.js';

export interface WatcherOptions {
  cluster: WatcherCluster;
  logger?: Logger;
  metrics?: WatcherMetrics;
  /** The system's time, or a virtual one (the simulator, fault tests). */
  clock?: Clock;
}

/** A launch not in Ray after this long has failed, where neither the spec nor the provider says otherwise. */
const FALLBACK_LAUNCH_TIMEOUT_MS = 120_000;
const LOG_TAIL_LINES = 20;
/** How often the watcher looks for processes of this cluster that no record accounts for: a /proc scan is not free. */
const ORPHAN_SWEEP_MS = 10_000;
/** Ticks that cannot see the cluster slow down to this at most. */
const MAX_TICK_BACKOFF_MS = 30_000;

export class Watcher {
  private readonly cluster: WatcherCluster;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly metrics: WatcherMetrics | undefined;
  private readonly startedAtMs: number;
  private failures = new Map<string, GroupFailures>();
  private lastScaleUpAtMs: number | undefined;
  /** Each listed worker's phase at the last tick that learnt from the list, and that tick's number (kept in place, not remade each tick). */
  private readonly previousPhases = new Map<string, { phase: WorkerPhase; tick: number }>();
  private learntTicks = 0;
  /** When each worker was first seen alive in Ray: idle time counts from there, not from the raylet's start. */
  private registeredAtMs = new Map<string, number>();
  /** Workers this watcher launched that have not registered yet. */
  private readonly launched = new Set<string>();
  /** Nodes (name@created) whose early death is counted in their group's back-off: once each, however long their clean-up takes. */
  private readonly countedDeaths = new Set<string>();
  /** Workers this watcher asked Ray to drain: when they leave Ray, that is no failed launch. */
  private drainsAsked = new Set<string>();
  private lastProblems = '';
  private lastInfeasible = '';
  private lastWithheld = '';
  private failedTicks = 0;
  private lastOrphanSweepAtMs: number | undefined;
  private readonly headRecovery: HeadRecovery;

  constructor(options: WatcherOptions) {
    this.cluster = options.cluster;
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics;
    this.clock = options.clock ?? systemClock;
    this.startedAtMs = this.clock.now();
    this.headRecovery = new HeadRecovery(this.cluster, headName(this.cluster.name), this.clock);
  }

  /** Runs until the signal aborts or the cluster goes down. One watcher per cluster: a second one fails with LOCK_HELD. */
  async run(signal: AbortSignal): Promise<void> {
    const paths = watcherPaths(this.cluster.stateDir);
    // Another watcher that judged this one gone (a heartbeat missed, on a filesystem shared between hosts) has the
    // cluster now: this one stops at once rather than act beside it.
    const lost = new AbortController();
    const lock = await tryLock(paths.lock, { onLost: () => lost.abort() });
    if (!lock.acquired) {
      throw new RayfleetError('LOCK_HELD', `a watcher for cluster ${this.cluster.name} already runs (pid ${lock.holderPid})`, {
        details: `Stop it with \`rayfleet watcher stop -c ${this.cluster.name}\`, or see it with \`rayfleet watcher status -c ${this.cluster.name}\`.`,
      });
    }
    const running = AbortSignal.any([signal, lost.signal]);
    try {
      await this.restoreHistory();
      let spec = await this.cluster.currentSpec();
      await this.cluster.record({ type: 'watcher', reason: `started (pid ${process.pid}, every ${spec?.watcher.intervalMs ?? 0} ms)`, pid: process.pid });
      while (!running.aborted && spec !== undefined) {
        await this.tick(spec, running);
        const interval = spec.watcher.intervalMs;
        await this.clock.sleep(this.failedTicks === 0 ? interval : Math.min(MAX_TICK_BACKOFF_MS, interval * 2 ** this.failedTicks), running);
        spec = await this.cluster.currentSpec();
        if (spec === undefined) await this.cluster.record({ type: 'watcher', reason: 'the cluster is down: stopping' });
      }
    } finally {
      if (lost.signal.aborted) await this.cluster.record({ type: 'failure', reason: "the watcher's lock was taken over by another watcher: stopping" });
      await this.cluster.record({ type: 'watcher', reason: `stopped (pid ${process.pid})`, pid: process.pid });
      await unlock(paths.lock);
    }
  }

  /** One observe → plan → act with the spec as it is now. Never throws: what fails is recorded and retried next tick. */
  async tick(spec: ClusterSpec, signal?: AbortSignal): Promise<Plan | undefined> {
    const started = performance.now();
    const provider = await this.cluster.provider();
    const observation = await observeCluster(
      // The dashboard only when the GCS fails: making its client reads the auth token file, which an idle tick should not.
      { provider, gcs: await this.cluster.gcs(), dashboard: { clusterStatus: async (signal) => (await this.cluster.dashboard()).clusterStatus(signal) }, headName: headName(this.cluster.name), defaultGroup: defaultGroup(spec), groups: spec.workerGroups, now: () => this.clock.now() },
      signal,
    );
    // Stopping mid-tick: a look cut short by the abort is not a view to act on.
    if (signal?.aborted === true) return undefined;
    await this.noteProblems(observation);
    await this.noteRegistrations(observation);
    const launchTimeoutMs = spec.watcher.launchTimeoutMs ?? provider.defaultLaunchTimeoutMs ?? FALLBACK_LAUNCH_TIMEOUT_MS;
    const diedYoung = this.noteDeaths(observation, launchTimeoutMs);
    // Counted before planning, so the plan that cleans a crashed node up does not launch its replacement past the back-off.
    for (const worker of observation.workers) {
      if (!diedYoung.has(worker.name)) continue;
      const death = `${worker.name}@${worker.createdAtMs}`;
      if (this.countedDeaths.has(death)) continue;
      this.countedDeaths.add(death);
      addFailure(this.failures, worker.group, observation.atMs, 'ended before it served in Ray');
    }
    const plan = planScaling(observation, { groups: spec.workerGroups, watcher: spec.watcher, launchTimeoutMs }, this.history());
    await this.noteInfeasible(plan, observation);
    // While the head is away (dead, or restarted and its GCS not back), nothing Ray would have to account for is done.
    const headAway = spec.watcher.paused !== true && (await this.headRecovery.check(spec, observation, signal));
    if (headAway) await this.noteWithheld(plan, observation, [{ cause: 'head-away', reason: "the head's GCS is away: no launch or drain until it is back" }]);
    else if (spec.watcher.paused === true) await this.withholdAll(plan, observation);
    else {
      await this.noteWithheld(plan, observation);
      await this.act(plan, observation, diedYoung, signal);
      await this.sweepOrphans(observation, signal);
    }
    const seconds = (performance.now() - started) / 1000;
    this.metrics?.observe(observation, plan, spec.workerGroups.map((group) => group.name));
    this.metrics?.tickSeconds.observe(seconds);
    await this.cluster.writeStatus(this.statusOf(spec, observation, plan, seconds)).catch((error: unknown) => this.logger.warn({ err: error }, 'cannot write the watcher status'));
    await this.cluster.recordObservation(observation).catch((error: unknown) => this.logger.warn({ err: error }, 'cannot write the observation history'));
    return plan;
  }

  private history(): PlannerHistory {
    return { lastScaleUpAtMs: this.lastScaleUpAtMs, backoffUntilMs: backoffUntilByGroup(this.failures) };
  }

  /** Cooldown, back-off and registration times survive a restart: they are read back from the journal. */
  private async restoreHistory(): Promise<void> {
    const events = await this.cluster.journal();
    this.failures = failuresByGroup(events);
    this.lastScaleUpAtMs = lastScaleUpMs(events);
    this.registeredAtMs = registrationTimes(events);
    this.drainsAsked = drainedNodes(events);
  }

  private async act(plan: Plan, observation: Observation, diedYoung: Set<string>, signal: AbortSignal | undefined): Promise<void> {
    const numbers = { ...plan.numbers, source: observation.source };
    for (const cleanup of plan.cleanups) {
      if (cleanup.failedLaunch || diedYoung.has(cleanup.name)) await this.launchFailed(cleanup.group, cleanup.name, cleanup.reason, diedYoung.has(cleanup.name));
      await this.safely(`clean up ${cleanup.name}`, () => this.cluster.terminate(cleanup.name, cleanup.reason, signal));
    }
    // Drain calls one after another, then the waits for DEAD in parallel: idle → stopped for several nodes costs about
    // one node's exit, and no drain races another in the GCS.
    if (plan.drains.length > 0) {
      for (const drain of plan.drains) this.drainsAsked.add(drain.name);
      const requests = plan.drains.map((drain) => ({ name: drain.name, group: drain.group, nodeId: drain.nodeId, idleMs: drain.idleMs, reason: drain.reason }));
      const groups = new Map(plan.drains.map((drain) => [drain.name, drain.group]));
      for (const result of await this.cluster.drainThenStop(requests, numbers, signal)) {
        if ('error' in result) await this.cluster.record({ type: 'failure', reason: `drain ${result.name}: ${messageOf(result.error)}` });
        else this.metrics?.drains.inc({ group: groups.get(result.name) ?? '', accepted: String(result.outcome.stopped) });
      }
    }
    // One group after another: every group's launch holds the cluster's launch lock, so launches in parallel would only
    // wait for it in turn, each polling every 500 ms. A group's nodes still launch in parallel under the lock.
    for (const launch of plan.launches) {
      if (signal?.aborted === true) break;
      if (launch.cause !== 'min') {
        this.lastScaleUpAtMs = observation.atMs;
        await this.cluster.record({ type: 'scale-up', group: launch.group, count: launch.count, reason: launch.reason, numbers });
      }
      try {
        for (const instance of await this.cluster.launchWorkers(launch.group, launch.count, `watcher: ${launch.reason}`, signal)) this.launched.add(instance.name);
        this.metrics?.launches.inc({ group: launch.group, cause: launch.cause }, launch.count);
      } catch (error) {
        // The launcher journaled the launch-failed event with the provider's error; the group backs off.
        addFailure(this.failures, launch.group, this.clock.now(), messageOf(error));
        this.metrics?.launchFailures.inc({ group: launch.group });
      }
    }
  }

  /** Every ORPHAN_SWEEP_MS, while the cluster can be seen whole: processes of this cluster that no record accounts for go. */
  private async sweepOrphans(observation: Observation, signal: AbortSignal | undefined): Promise<void> {
    if (this.cluster.sweepOrphans === undefined || !observation.providerOk || !observation.rayOk) return;
    if (this.lastOrphanSweepAtMs !== undefined && observation.atMs - this.lastOrphanSweepAtMs < ORPHAN_SWEEP_MS) return;
    this.lastOrphanSweepAtMs = observation.atMs;
    await this.safely('sweep orphans', async () => void (await this.cluster.sweepOrphans?.(signal)));
  }

  /** A launch that came to nothing: journaled with the node's last log lines, and its group backs off. */
  private async launchFailed(group: string, node: string, reason: string, counted: boolean): Promise<void> {
    if (!counted) addFailure(this.failures, group, this.clock.now(), reason);
    this.metrics?.launchFailures.inc({ group });
    const logTail = await this.logTail(node);
    await this.cluster.record({ type: 'launch-failed', node, group, reason, failures: this.failures.get(group)?.failures ?? 1, logTail });
  }

  private async logTail(node: string): Promise<string> {
    const lines: string[] = [];
    try {
      for await (const line of (await this.cluster.provider()).logs(node, { tail: LOG_TAIL_LINES })) lines.push(line);
    } catch (error) {
      lines.push(`(no log: ${messageOf(error)})`);
    }
    return lines.join('\n');
  }

  /**
   * A worker that registered in Ray and is no longer alive there has ended, whatever its provider says (a raylet that
   * exited after a drain whose answer was lost, or crashed under a `ray start` that stays): it is dead, and cleaned up.
   * One that ended before it joined Ray, or within launchTimeout of joining, is a failed launch: a crash loop backs off.
   */
  private noteDeaths(observation: Observation, launchTimeoutMs: number): Set<string> {
    const diedYoung = new Set<string>();
    for (const worker of observation.workers) {
      // A registration from before this node was created belongs to an earlier node of the same name.
      const known = this.registeredAtMs.get(worker.name);
      const registeredAt = known !== undefined && known >= worker.createdAtMs ? known : undefined;
      if (worker.phase === 'launching' && worker.leftRay === true && registeredAt !== undefined) worker.phase = 'dead';
      const young = registeredAt === undefined || observation.atMs - registeredAt < launchTimeoutMs;
      if (worker.phase === 'dead' && young && !this.drainsAsked.has(worker.name)) diedYoung.add(worker.name);
    }
    return diedYoung;
  }

  /** Records a worker's first tick alive in Ray, which also ends its group's back-off. */
  private async noteRegistrations(observation: Observation): Promise<void> {
    // Without Ray's view every running node looks registered, without the provider's none is listed: nothing is learnt.
    if (!observation.rayOk || !observation.providerOk) return;
    const tick = (this.learntTicks += 1);
    // Journaled after the loop: an await inside a loop over 10,000 workers keeps it from being compiled tight.
    const joined: WorkerView[] = [];
    for (const worker of observation.workers) {
      const known = this.registeredAtMs.get(worker.name);
      if (worker.phase === 'registered' && (known === undefined || known < worker.createdAtMs)) this.registeredAtMs.set(worker.name, observation.atMs);
      if (worker.phase !== 'dead') worker.registeredAtMs = this.registeredAtMs.get(worker.name);
      const previous = this.previousPhases.get(worker.name);
      const wasLaunching = previous?.phase === 'launching';
      if (previous === undefined) {
        this.previousPhases.set(worker.name, { phase: worker.phase, tick });
      } else {
        previous.phase = worker.phase;
        previous.tick = tick;
      }
      if (!wasLaunching || worker.phase !== 'registered') continue;
      this.failures.delete(worker.group);
      // A launch by `up` or `add-worker` is journaled as registered by the command that waits for it.
      if (this.launched.delete(worker.name)) joined.push(worker);
    }
    this.previousPhases.forEach((previous, name) => {
      if (previous.tick !== tick) this.previousPhases.delete(name);
    });
    // A name that comes back is a new node: its registration is counted afresh.
    for (const name of this.registeredAtMs.keys()) if (!this.previousPhases.has(name)) this.registeredAtMs.delete(name);
    for (const name of this.drainsAsked) if (!this.previousPhases.has(name)) this.drainsAsked.delete(name);
    for (const death of this.countedDeaths) if (!this.previousPhases.has(death.slice(0, death.lastIndexOf('@')))) this.countedDeaths.delete(death);
    for (const worker of joined) {
      await this.cluster.record({ type: 'registered', node: worker.name, group: worker.group, reason: 'alive in the GCS', waitedMs: observation.atMs - worker.createdAtMs });
    }
  }

  private async noteProblems(observation: Observation): Promise<void> {
    const problems = observation.problems.join('; ');
    this.failedTicks = observation.providerOk && observation.rayOk ? 0 : this.failedTicks + 1;
    if (this.failedTicks > 0) this.metrics?.tickFailures.inc();
    if (problems === this.lastProblems) return;
    this.lastProblems = problems;
    await this.cluster.record(
      problems === ''
        ? { type: 'watcher', reason: 'sees the cluster again through the GCS', source: observation.source }
        : { type: 'failure', reason: `cannot see the cluster fully: ${problems}; using ${observation.source}`, source: observation.source },
    );
  }

  private async noteInfeasible(plan: Plan, observation: Observation): Promise<void> {
    const text = [...new Set(plan.infeasible.map(describeShape))].join(', ');
    if (text === this.lastInfeasible) return;
    this.lastInfeasible = text;
    if (text !== '') await this.cluster.record({ type: 'infeasible', reason: `no worker group can hold ${text} (demand from ${observation.source})`, shapes: plan.infeasible.length });
  }

  /** Why demand waits, journaled when the reasons change (not every tick): the answer to "why did it not scale?". */
  private async noteWithheld(plan: Plan, observation: Observation, extra: Array<{ cause: WithheldCause; reason: string }> = []): Promise<void> {
    const entries = [...extra, ...plan.withheld.map((reason) => ({ cause: withheldCause(reason), reason }))];
    // The same reasons with other numbers (a back-off counting down) are not news.
    const text = entries.map((entry) => entry.reason.replace(/\d+/g, '#')).join('; ');
    if (text === this.lastWithheld) return;
    this.lastWithheld = text;
    const numbers = { ...plan.numbers, source: observation.source };
    for (const entry of entries) await this.cluster.record({ type: 'withheld', cause: entry.cause, reason: entry.reason, numbers });
  }

  /** Paused: the plan is journaled as withheld, and nothing is done. */
  private async withholdAll(plan: Plan, observation: Observation): Promise<void> {
    const actions = [
      ...plan.launches.map((launch) => `would launch ${launch.count} in ${launch.group}: ${launch.reason}`),
      ...plan.drains.map((drain) => `would drain ${drain.name}: ${drain.reason}`),
      ...plan.cleanups.map((cleanup) => `would clean up ${cleanup.name}: ${cleanup.reason}`),
    ];
    await this.noteWithheld(plan, observation, actions.map((reason) => ({ cause: 'paused' as const, reason: `paused: ${reason}` })));
  }

  private async safely(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      await this.cluster.record({ type: 'failure', reason: `${what}: ${messageOf(error)}` });
    }
  }

  private statusOf(spec: ClusterSpec, observation: Observation, plan: Plan, tickSeconds: number): WatcherStatus {
    const history = this.history();
    return {
      pid: process.pid,
      startedAt: new Date(this.startedAtMs).toISOString(),
      lastTickAt: new Date(observation.atMs).toISOString(),
      tickSeconds,
      source: observation.source,
      problems: observation.problems,
      settings: spec.watcher,
      paused: spec.watcher.paused === true,
      demand: observation.demand,
      groups: countGroups(spec.workerGroups, observation.workers).map((count) => {
        const backoffUntil = history.backoffUntilMs[count.name];
        return { ...count, backoffUntil: backoffUntil !== undefined && backoffUntil > observation.atMs ? new Date(backoffUntil).toISOString() : undefined };
      }),
      launching: observation.workers.filter((worker) => worker.phase === 'launching').map((worker) => worker.name),
      infeasible: plan.infeasible,
      withheld: plan.withheld,
      lastPlan: { launches: plan.launches, drains: plan.drains, cleanups: plan.cleanups },
    };
  }
}
