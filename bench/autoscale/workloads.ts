// The workloads of bench:autoscale: what the driver submits, the worker groups both autoscalers may launch, and the nodes it needs.
import path from 'node:path';

export interface BenchGroup {
  /** rayfleet's group and Ray's node type, named alike so the GCS reports both the same way. */
  name: string;
  cpus: number;
  gpus: number;
  max: number;
}

export interface BenchWorkload {
  name: string;
  description: string;
  groups: BenchGroup[];
  /** What the driver submits at once; each holds its resources for `seconds`. */
  tasks: Array<{ shape: Record<string, number>; count: number }>;
  placementGroup?: { bundles: Array<Record<string, number>>; strategy: 'STRICT_SPREAD' | 'STRICT_PACK' | 'PACK' | 'SPREAD' };
  seconds: number;
  maxWorkers: number;
  /** The fewest workers that hold all of it at once. */
  needed: number;
}

/** The driver every workload runs (`python ray-autoscale-driver.py '<workload json>'`). */
export const DRIVER = path.resolve(import.meta.dirname, '..', 'ray-autoscale-driver.py');

/** Ray's fake GPUs and rayfleet's local ones are both only a resource count (`--num-gpus`): nothing runs on a GPU. */
export const WORKLOADS: Record<string, BenchWorkload> = {
  burst: {
    name: 'burst',
    description: '4 one-CPU tasks of 5 s on an empty cluster; 1-CPU workers, max 4',
    groups: [{ name: 'worker', cpus: 1, gpus: 0, max: 4 }],
    tasks: [{ shape: { CPU: 1 }, count: 4 }],
    seconds: 5,
    maxWorkers: 4,
    needed: 4,
  },
  mixed: {
    name: 'mixed',
    description: '3 one-CPU tasks and 1 {CPU: 1, GPU: 1} task of 5 s; groups cpu (1 CPU, max 4) and gpu (1 CPU + 1 GPU, max 2)',
    groups: [
      { name: 'cpu', cpus: 1, gpus: 0, max: 4 },
      { name: 'gpu', cpus: 1, gpus: 1, max: 2 },
    ],
    tasks: [
      { shape: { CPU: 1 }, count: 3 },
      { shape: { CPU: 1, GPU: 1 }, count: 1 },
    ],
    seconds: 5,
    maxWorkers: 6,
    needed: 4,
  },
  'strict-spread': {
    name: 'strict-spread',
    description: 'a STRICT_SPREAD placement group of 3 one-CPU bundles (a 5 s task in each) beside 4 one-CPU tasks of 5 s; 2-CPU workers, max 6',
    groups: [{ name: 'worker', cpus: 2, gpus: 0, max: 6 }],
    tasks: [{ shape: { CPU: 1 }, count: 4 }],
    placementGroup: { bundles: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], strategy: 'STRICT_SPREAD' },
    seconds: 5,
    maxWorkers: 6,
    // 3 nodes for the bundles, whose second CPUs hold 3 of the tasks; the 4th task needs a 4th node. Ray gives each
    // node to the pending tasks as it joins, though, while the gang waits for 3 nodes at once: with 4 nodes the gang
    // waits for the first tasks to end, and rayfleet launches 5 so it need not (see the planner's packing order).
    needed: 4,
  },
};

/** What the driver's result line starts with. */
export const RESULT_MARKER = 'bench-autoscale-result: ';

/** The driver's times, epoch seconds; `gangStarted` is the placement group's last task started (null without one). */
export interface DriverTimes {
  submitted: number;
  lastStarted: number;
  gangStarted: number | null;
  done: number;
}

/** The driver's times from its output. */
export function driverTimes(stdout: string): DriverTimes {
  const line = stdout.split('\n').find((text) => text.startsWith(RESULT_MARKER));
  if (line === undefined) throw new Error(`the driver printed no result line: ${stdout.slice(-2000)}`);
  return JSON.parse(line.slice(RESULT_MARKER.length)) as DriverTimes;
}

/** The driver's argument: the workload as the Python side reads it. */
export function driverArgument(workload: BenchWorkload): string {
  return JSON.stringify({ seconds: workload.seconds, tasks: workload.tasks, placementGroup: workload.placementGroup ?? null });
}

/** The workloads BENCH_WORKLOADS names (comma-separated), all by default. */
export function chosenWorkloads(names: string | undefined): BenchWorkload[] {
  if (names === undefined || names.trim() === '') return Object.values(WORKLOADS);
  return names.split(',').map((name) => {
    const workload = WORKLOADS[name.trim()];
    if (workload === undefined) throw new Error(`BENCH_WORKLOADS: no workload "${name.trim()}" (there are ${Object.keys(WORKLOADS).join(', ')})`);
    return workload;
  });
}
