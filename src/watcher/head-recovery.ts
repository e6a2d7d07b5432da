// The head that survives: once the provider proves the head's Ray gone (under `ray start --block` a dead GCS takes the
// whole head down), the watcher says so in the journal and, with head.faultTolerance, starts it again on its address and
// ports, backing off when it dies again and again. While the head is away the tick neither launches nor drains.
import { messageOf } from '../errors.js';
import type { ClusterSpec } from '../spec/schema.js';
import type { Clock } from '../time/clock.js';
import type { Observation } from './observation.js';
import type { WatcherCluster } from './watcher-cluster.js';

const LOG_TAIL_LINES = 20;
/** The first restart is at once; each death after it waits twice as long as the last, up to this. */
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 300_000;
/** A head up this long has stopped dying: the next death restarts at once again. */
const HEALTHY_AFTER_MS = 600_000;

export class HeadRecovery {
  private deaths = 0;
  /** When the head was seen gone, until it is started again. */
  private diedAtMs: number | undefined;
  /** Started again, and its GCS not answering yet. */
  private recovering = false;
  private nextAttemptAtMs = 0;
  private restartedAtMs: number | undefined;
  private lastRefusal = '';

  constructor(
    private readonly cluster: WatcherCluster,
    private readonly headName: string,
    private readonly clock: Clock,
  ) {}

  /** Looks at the head; true while it is away (the tick then acts on nothing else). Never throws. */
  async check(spec: ClusterSpec, observation: Observation, signal: AbortSignal | undefined): Promise<boolean> {
    const gone = observation.providerOk && !observation.rayOk && (observation.headState === 'stopped' || observation.headState === 'failed');
    if (!gone) {
      if (observation.rayOk) {
        this.recovering = false;
        if (this.restartedAtMs !== undefined && observation.atMs - this.restartedAtMs >= HEALTHY_AFTER_MS) this.deaths = 0;
      }
      return this.recovering;
    }
    if (this.diedAtMs === undefined) {
      // A head that dies again before it stayed up HEALTHY_AFTER_MS waits longer each time: a crash loop backs off.
      this.diedAtMs = observation.atMs;
      this.recovering = false;
      this.deaths += 1;
      this.nextAttemptAtMs = this.deaths === 1 ? observation.atMs : observation.atMs + Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.deaths - 2));
      const restarting = spec.head.faultTolerance === true ? 'restarting it on its ports' : 'head.faultTolerance is off: `rayfleet up` starts a new head (workers and state are lost)';
      await this.cluster.record({ type: 'head-died', node: this.headName, deaths: this.deaths, reason: `its Ray is gone (provider: ${observation.headState}); ${restarting}`, logTail: await this.logTail() });
    }
    if (spec.head.faultTolerance !== true || this.cluster.restartHead === undefined || this.clock.now() < this.nextAttemptAtMs) return true;
    try {
      if (!(await this.cluster.restartHead(signal))) {
        await this.refused('its old processes are not proven gone (a hung GCS keeps its port and store): not restarted yet');
        return true;
      }
      this.restartedAtMs = this.clock.now();
      await this.cluster.record({ type: 'head-restarted', node: this.headName, deaths: this.deaths, awayMs: this.clock.now() - this.diedAtMs, reason: 'on its address and ports, the GCS recovering from its store' });
      this.diedAtMs = undefined;
      this.recovering = true;
      this.lastRefusal = '';
    } catch (error) {
      this.nextAttemptAtMs = this.clock.now() + Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, this.deaths - 1));
      await this.refused(`restart failed: ${messageOf(error)}`);
    }
    return true;
  }

  private async refused(reason: string): Promise<void> {
    if (reason === this.lastRefusal) return;
    this.lastRefusal = reason;
    await this.cluster.record({ type: 'failure', node: this.headName, reason: `head: ${reason}` });
  }

  private async logTail(): Promise<string> {
    const lines: string[] = [];
    try {
      for await (const line of (await this.cluster.provider()).logs(this.headName, { tail: LOG_TAIL_LINES })) lines.push(line);
    } catch (error) {
      lines.push(`(no log: ${messageOf(error)})`);
    }
    return lines.join('\n');
  }
}
