// When a node counts as up, and the waits for it: one rule for `up`, `add-worker` and the minimums the watcher brings.
import { RayfleetError, isRayfleetError, messageOf } from '../errors.js';
import type { NewEvent } from '../journal/event.js';
import type { RayNodeState } from '../ray/gcs-client.js';
import type { Instance, NodeProvider } from '../providers/node-provider.js';
import type { WorkerGroupSpec } from '../spec/schema.js';
import { pollUntil } from '../wait/poll-until.js';

export interface ReadinessContext {
  provider: () => Promise<NodeProvider>;
  rayNodes: (signal?: AbortSignal) => Promise<RayNodeState[]>;
  record: (event: NewEvent) => Promise<void>;
  /** How long a node may take from launch to registered in Ray. */
  timeoutMs: number;
}

const LOG_TAIL_LINES = 25;

export class NodeReadiness {
  constructor(private readonly context: ReadinessContext) {}

  /**
   * The instances that are up: running for their provider (a CML application turns RUNNING only once its launcher
   * serves) and alive in Ray. Where this machine cannot reach the head (outside CML's network), a provider whose
   * running state follows Ray's start is enough.
   */
  private async namesUp(provider: NodeProvider, instances: Instance[], signal: AbortSignal | undefined): Promise<Set<string>> {
    const rayNodes = await this.context.rayNodes(signal).catch((error: unknown) => {
      if (provider.runningMeansRayUp === true && isRayfleetError(error, 'RAY_UNREACHABLE')) return undefined;
      throw error;
    });
    const aliveInRay = (name: string): boolean => rayNodes === undefined || rayNodes.some((node) => node.instanceId === name && node.status !== 'DEAD');
    return new Set(instances.filter((instance) => instance.state === 'running' && aliveInRay(instance.name)).map((instance) => instance.name));
  }

  /** Waits until every group has its min of workers up (the watcher inside the head brings them). */
  async waitForMinimums(groups: WorkerGroupSpec[], signal: AbortSignal | undefined): Promise<void> {
    const provider = await this.context.provider();
    await pollUntil(
      async () => {
        const instances = await provider.list(signal);
        const up = await this.namesUp(provider, instances, signal);
        return groups.every((group) => instances.filter((instance) => instance.group === group.name && up.has(instance.name)).length >= group.min) ? true : undefined;
      },
      {
        timeoutMs: this.context.timeoutMs,
        intervalMs: 500,
        signal,
        describe: () => `the watcher to bring every group to its min (${groups.map((group) => `${group.name} ${group.min}`).join(', ')})`,
        timeoutCode: 'NODE_START_TIMEOUT',
      },
    );
  }

  /** Waits until Ray's GCS has each node alive; fails fast with its log when a node's process ends first. */
  async waitForRegistration(names: string[], signal: AbortSignal | undefined): Promise<void> {
    if (names.length === 0) return;
    const started = Date.now();
    const pending = new Set(names);
    const provider = await this.context.provider();
    try {
      await pollUntil(
        async () => {
          const instances = await provider.list(signal);
          for (const name of pending) {
            const instance = instances.find((candidate) => candidate.name === name);
            if (instance === undefined || instance.state === 'stopped' || instance.state === 'failed') {
              throw new RayfleetError('NODE_START_FAILED', `${name} exited before it joined Ray`, { details: await this.logTail(name) });
            }
          }
          const up = await this.namesUp(provider, instances, signal);
          for (const name of [...pending]) {
            if (!up.has(name)) continue;
            pending.delete(name);
            const group = instances.find((instance) => instance.name === name)?.group;
            await this.context.record({ type: 'registered', node: name, group, reason: 'alive in the GCS', waitedMs: Date.now() - started });
          }
          return pending.size === 0 ? true : undefined;
        },
        {
          timeoutMs: this.context.timeoutMs,
          intervalMs: 300,
          signal,
          describe: () => `${[...pending].join(', ')} to register in Ray`,
          timeoutCode: 'NODE_START_TIMEOUT',
          isFatal: (error) => isRayfleetError(error, 'NODE_START_FAILED'),
        },
      );
    } catch (error) {
      if (!isRayfleetError(error, 'NODE_START_TIMEOUT')) throw error;
      const first = [...pending][0] ?? names[0] ?? '';
      throw new RayfleetError('NODE_START_TIMEOUT', `${[...pending].join(', ')} did not come up within ${Math.round(this.context.timeoutMs / 1000)} s`, {
        cause: error.cause,
        details: await this.logTail(first),
      });
    }
  }

  /** The last lines of a node's log, for an error a person can act on. */
  async logTail(name: string): Promise<string> {
    const lines: string[] = [];
    try {
      for await (const line of (await this.context.provider()).logs(name, { tail: LOG_TAIL_LINES })) lines.push(line);
    } catch (error) {
      lines.push(`(no log: ${messageOf(error)})`);
    }
    return `last lines of ${name}'s log:\n${lines.join('\n')}`;
  }
}
