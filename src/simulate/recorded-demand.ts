// `simulate --from-journal`: a real cluster's recorded demand (its observation history) and launch times (its journal) as a workload.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { RayfleetError } from '../errors.js';
import { readClusterRecord } from '../fleet/cluster-record.js';
import { clusterPaths, clusterStateDir } from '../fleet/state-dir.js';
import { parseJournal } from '../journal/journal.js';
import type { ResourceShape } from '../ray/cluster-resource-state.js';
import type { ClusterSpec } from '../spec/schema.js';
import { historyFile, parseHistory, type HistoryPoint } from '../watcher/observation-history.js';
import { describeShape, shapeKey } from '../watcher/resource-shapes.js';
import type { Arrival, Workload } from './workload.js';

/** What was replayed and how far it can be trusted: printed above the table, and in --json. */
export interface ReplaySummary {
  cluster: string;
  stateDir: string;
  /** The history's points in the window read, and their first and last times (epoch ms). */
  snapshots: number;
  fromMs: number;
  untilMs: number;
  /** Stretches longer than GAP_MS without a point: no watcher ran, nothing was seen. */
  gaps: number;
  /** When the first request was seen waiting and when the last one left; the workload starts at the first. */
  demandFromMs: number;
  demandUntilMs: number;
  shapes: Array<{ shape: string; requests: number; peakWaiting: number; medianSeenS: number }>;
  /** Requests still waiting at the history's last point: replayed as lasting until then. */
  stillWaiting: number;
  /** Workers' launch → alive in Ray as the journal measured them, in ms; empty when it holds none. */
  launchSamplesMs: number[];
  /** Node-hours of the real cluster's workers by group, from the history (provider launch to gone, the head aside). */
  recordedNodeHours: Record<string, number>;
  /** `--task-duration`, when it replaced the estimated durations. */
  taskDurationMs: number | undefined;
  approximations: string[];
}

export interface RecordedDemand {
  workload: Workload;
  summary: ReplaySummary;
  /** The cluster's saved spec, when it is up (`down` removes it; the history and journal stay). */
  savedSpec: ClusterSpec | undefined;
}

export interface ReplayOptions {
  /** Only what was recorded at or after this time (epoch ms). */
  sinceMs?: number;
  /** How long each replayed request runs once placed, instead of how long it was seen waiting. */
  taskDurationMs?: number;
}

/** The history's own notion of a gap (observation-history.ts): above its 60 s heartbeat, so only a stopped watcher makes one. */
const GAP_MS = 150_000;
/** The history keeps at most one point a second: nothing shorter can have been seen. */
const RESOLUTION_MS = 1_000;

/** The cluster's history and journal, by name (under RAYFLEET_HOME) or by its state directory (a spec's provider.stateDir). */
export async function readRecordedDemand(cluster: string, options: ReplayOptions = {}): Promise<RecordedDemand> {
  const stateDir = (await isDirectory(cluster)) && cluster.includes(path.sep) ? cluster : clusterStateDir(cluster);
  if (!(await isDirectory(stateDir))) {
    throw new RayfleetError('CLUSTER_NOT_FOUND', `no cluster named ${cluster} has state on this machine (looked in ${stateDir})`, {
      details: 'Name a cluster that ran here, or give the directory of one whose provider.stateDir is elsewhere.',
    });
  }
  const historyPath = historyFile(stateDir);
  const historyText = await readOptional(historyPath);
  const paths = clusterPaths(stateDir);
  const { events } = parseJournal((await readOptional(paths.journal)) ?? '');
  const record = await readClusterRecord(paths.clusterFile);
  const name = record?.spec.name ?? path.basename(stateDir);
  const points = parseHistory(historyText ?? '').filter((point) => options.sinceMs === undefined || point.atMs >= options.sinceMs);
  if (points.length === 0) {
    throw new RayfleetError('HISTORY_EMPTY', `cluster ${name} has no recorded demand${historyText === undefined ? '' : options.sinceMs === undefined ? '' : ' in that window'} to replay`, {
      details: `${historyPath} ${historyText === undefined ? 'does not exist' : 'holds no point'}: the watcher writes it while it runs (watcher.enabled: true).`,
    });
  }
  const launchSamplesMs = events.flatMap((event) =>
    event.type === 'registered' && event.group !== undefined && event.group !== 'head' && event.waitedMs > 0 && (options.sinceMs === undefined || Date.parse(event.time) >= options.sinceMs) ? [event.waitedMs] : [],
  );
  const { workload, summary } = workloadOfHistory(points, { cluster: name, stateDir, launchSamplesMs, ...(options.taskDurationMs === undefined ? {} : { taskDurationMs: options.taskDurationMs }) });
  return { workload, summary, savedSpec: record?.spec };
}

/**
 * Demand by shape over time, as requests: a request arrives when its shape's waiting count rises, and leaves (first in,
 * first out) when it falls; it is replayed as a task of that shape lasting as long as it was seen waiting.
 */
export function workloadOfHistory(
  points: HistoryPoint[],
  context: { cluster: string; stateDir: string; launchSamplesMs: number[]; taskDurationMs?: number },
): { workload: Workload; summary: ReplaySummary } {
  // Ray reports a shape's resources in any order: {CPU: 1, GPU: 1} and {GPU: 1, CPU: 1} are one shape, under its first key.
  const canonical = new Map<string, string>();
  const sorted = [...points]
    .sort((a, b) => a.atMs - b.atMs)
    .map((point) => {
      const values: Record<string, number> = {};
      for (const [key, value] of Object.entries(point.values)) {
        let name = key;
        if (key.startsWith('demand/')) {
          const id = shapeKey(shapeOfKey(key));
          name = canonical.get(id) ?? key;
          canonical.set(id, name);
        }
        values[name] = (values[name] ?? 0) + value;
      }
      return { atMs: point.atMs, values };
    });
  const first = sorted[0];
  const last = sorted.at(-1);
  if (first === undefined || last === undefined) throw new RayfleetError('HISTORY_EMPTY', `cluster ${context.cluster} has no recorded demand to replay`);
  const demandKeys = [...new Set(sorted.flatMap((point) => Object.keys(point.values).filter((key) => key.startsWith('demand/'))))].sort();
  if (demandKeys.length === 0) {
    throw new RayfleetError('HISTORY_EMPTY', `cluster ${context.cluster} recorded ${sorted.length} observation(s) but never any demand: nothing to replay`, {
      details: 'Only work that waited for resources at a watcher tick is recorded; work that found room at once is not.',
    });
  }

  const requests: Array<{ key: string; startMs: number; endMs: number }> = [];
  const waiting = new Map<string, number[]>(demandKeys.map((key) => [key, []]));
  const peak = new Map<string, number>();
  const closeAll = (atMs: number): void => {
    for (const [key, starts] of waiting) for (const startMs of starts.splice(0)) requests.push({ key, startMs, endMs: atMs });
  };
  let gaps = 0;
  let previous: HistoryPoint | undefined;
  for (const point of sorted) {
    if (previous !== undefined && point.atMs - previous.atMs > GAP_MS) {
      gaps += 1;
      closeAll(previous.atMs + RESOLUTION_MS);
    }
    for (const key of demandKeys) {
      const starts = waiting.get(key) as number[];
      const count = point.values[key] ?? 0;
      peak.set(key, Math.max(peak.get(key) ?? 0, count));
      while (starts.length < count) starts.push(point.atMs);
      if (starts.length > count) for (const startMs of starts.splice(0, starts.length - count)) requests.push({ key, startMs, endMs: point.atMs });
    }
    previous = point;
  }
  const stillWaiting = [...waiting.values()].reduce((total, starts) => total + starts.length, 0);
  closeAll(last.atMs + RESOLUTION_MS);

  const demandFromMs = Math.min(...requests.map((request) => request.startMs));
  const demandUntilMs = Math.max(...requests.map((request) => request.endMs));
  const arrivals = new Map<string, Arrival>();
  for (const request of requests) {
    const durationMs = context.taskDurationMs ?? Math.max(RESOLUTION_MS, request.endMs - request.startMs);
    const atMs = request.startMs - demandFromMs;
    const id = `${atMs}|${request.key}|${durationMs}`;
    const existing = arrivals.get(id);
    if (existing !== undefined) existing.count += 1;
    else arrivals.set(id, { atMs, kind: 'task', name: undefined, shape: shapeOfKey(request.key), bundles: undefined, count: 1, durationMs, strategy: undefined, overMs: 0 });
  }
  const shapes = demandKeys.map((key) => {
    const seen = requests.filter((request) => request.key === key).map((request) => request.endMs - request.startMs);
    return { shape: describeShape(shapeOfKey(key)), requests: seen.length, peakWaiting: peak.get(key) ?? 0, medianSeenS: median(seen) / 1000 };
  }).sort((a, b) => b.requests - a.requests || a.shape.localeCompare(b.shape));
  const summary: ReplaySummary = {
    cluster: context.cluster,
    stateDir: context.stateDir,
    snapshots: sorted.length,
    fromMs: first.atMs,
    untilMs: last.atMs,
    gaps,
    demandFromMs,
    demandUntilMs,
    shapes,
    stillWaiting,
    launchSamplesMs: context.launchSamplesMs,
    recordedNodeHours: recordedNodeHours(sorted),
    taskDurationMs: context.taskDurationMs,
    approximations: approximations(context.taskDurationMs !== undefined, gaps, stillWaiting),
  };
  const workload: Workload = {
    name: `replay of ${context.cluster}`,
    description: `demand recorded by the watcher of ${context.cluster}, ${new Date(demandFromMs).toISOString()} to ${new Date(demandUntilMs).toISOString()}`,
    arrivals: [...arrivals.values()].sort((a, b) => a.atMs - b.atMs || shapeKey(a.shape ?? {}).localeCompare(shapeKey(b.shape ?? {}))),
    // The spec's section decides the machines; the journal's measured launches stand in where it sets no launch latency.
    simulation: {
      launchLatency: undefined,
      terminateLatency: undefined,
      launchFailureRate: 0,
      deathRate: 0,
      deathAfter: undefined,
      quota: {},
      prices: {},
      horizonMs: undefined,
    },
    simulationFields: context.launchSamplesMs.length === 0 ? {} : { launchLatency: { samples: context.launchSamplesMs.map((ms) => `${ms}ms`) } },
    spec: undefined,
  };
  if (context.launchSamplesMs.length > 0) workload.simulation.launchLatency = { kind: 'empirical', samplesMs: context.launchSamplesMs };
  return { workload, summary };
}

function approximations(fixedDuration: boolean, gaps: number, stillWaiting: number): string[] {
  return [
    fixedDuration
      ? 'each request is a task arriving when its demand was first seen, running for --task-duration once placed'
      : 'each request is a task arriving when its demand was first seen and lasting as long as it was seen waiting: how long it ran once placed is not recorded (give --task-duration, or edit an --emit-workload file)',
    'a shape\'s waiting count that rises is new requests, one that falls is its oldest leaving (first in, first out)',
    'work placed between two watcher ticks, or on room that was free, was never seen waiting and is not replayed',
    "placement-group bundles replay as separate tasks of their shape (the history keeps no gangs); request_resources() and Ray's task events are not replayed",
    ...(gaps > 0 ? [`${gaps} gap(s) with no watcher running: demand across one is cut there and starts again after it`] : []),
    ...(stillWaiting > 0 ? [`${stillWaiting} request(s) still waiting when the history ends are replayed as lasting until then`] : []),
  ];
}

/** `demand/{CPU: 1, GPU: 1}` → { CPU: 1, GPU: 1 }, the inverse of describeShape. */
export function shapeOfKey(key: string): ResourceShape {
  const text = key.slice('demand/'.length).replace(/^\{|\}$/g, '').trim();
  const shape: ResourceShape = {};
  if (text === '') return shape;
  for (const part of text.split(', ')) {
    const colon = part.lastIndexOf(': ');
    const amount = Number(part.slice(colon + 2));
    if (colon > 0 && Number.isFinite(amount)) shape[part.slice(0, colon)] = amount;
  }
  return shape;
}

/** Workers of each group in any phase (launching, registered, draining, dead but listed), integrated over time; gaps count nothing. */
function recordedNodeHours(points: HistoryPoint[]): Record<string, number> {
  const hours: Record<string, number> = {};
  for (let index = 0; index + 1 < points.length; index += 1) {
    const point = points[index] as HistoryPoint;
    const spanMs = (points[index + 1] as HistoryPoint).atMs - point.atMs;
    if (spanMs > GAP_MS) continue;
    for (const [key, count] of Object.entries(point.values)) {
      const [kind, group] = key.split('/');
      if (kind !== 'nodes' || group === undefined) continue;
      hours[group] = (hours[group] ?? 0) + (count * spanMs) / 3_600_000;
    }
  }
  return hours;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

async function isDirectory(candidate: string): Promise<boolean> {
  return stat(candidate).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

async function readOptional(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}

/** The replayed workload as a file `rayfleet simulate FILE` runs as it is: to edit durations, shapes or the spec, then run again. */
export function replayWorkloadText(replay: { workload: Workload; summary: ReplaySummary }, specFields: Record<string, unknown> | undefined): string {
  const { workload, summary } = replay;
  const header = [
    `Replayed from the journal of cluster ${summary.cluster} (${summary.stateDir}) by rayfleet simulate --from-journal.`,
    ...describeReplay(summary),
  ].map((line) => `# ${line}`);
  const flow = (value: unknown): string => stringifyYaml(value, { collectionStyle: 'flow', lineWidth: 0 }).trim();
  const body = stringifyYaml({ name: workload.name, description: workload.description, ...(specFields === undefined ? {} : { spec: specFields }) }, { lineWidth: 0 });
  const simulation = Object.keys(workload.simulationFields).length === 0 ? [] : [`simulation: ${flow(workload.simulationFields)}`];
  // One arrival a line, as the examples write them.
  const arrivals = workload.arrivals.map((arrival) => `  - ${flow({ at: durationText(arrival.atMs), kind: arrival.kind, shape: arrival.shape, count: arrival.count, duration: durationText(arrival.durationMs) })}`);
  return [...header, body.trimEnd(), ...simulation, 'arrivals:', ...arrivals, ''].join('\n');
}

/** What was replayed and what it approximates, a line each: above the table, and at the top of an emitted workload. */
export function describeReplay(summary: ReplaySummary): string[] {
  const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
  const hours = (ms: number): string => `${(ms / 3_600_000).toFixed(2)} h`;
  const samples = [...summary.launchSamplesMs].sort((a, b) => a - b);
  const quantile = (q: number): number => Math.round((samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0) / 100) / 10;
  const recorded = Object.entries(summary.recordedNodeHours).sort(([a], [b]) => a.localeCompare(b));
  return [
    `history ${iso(summary.fromMs)} to ${iso(summary.untilMs)} (${hours(summary.untilMs - summary.fromMs)}, ${summary.snapshots} snapshots, ${summary.gaps} gap(s)); demand ${iso(summary.demandFromMs)} to ${iso(summary.demandUntilMs)}`,
    `shapes: ${summary.shapes.map((shape) => `${shape.shape} ${shape.requests} request(s), at most ${shape.peakWaiting} waiting, median ${shape.medianSeenS} s seen`).join('; ')}`,
    samples.length === 0
      ? 'launch latency: the journal measured no worker launch; the spec\'s simulation.launchLatency, else the provider\'s default'
      : `launch latency: ${samples.length} worker launch(es) measured in the journal (median ${quantile(0.5)} s, p95 ${quantile(0.95)} s), unless the spec sets simulation.launchLatency`,
    ...(recorded.length === 0 ? [] : [`the real cluster's worker node-hours (launch to gone, head aside): ${recorded.map(([group, value]) => `${group} ${value.toFixed(2)}`).join(', ')}`]),
    ...summary.approximations.map((line) => `approximates: ${line}`),
  ];
}

/** Whole seconds as `90s`; anything finer in milliseconds, which the schema reads back exactly. */
function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
