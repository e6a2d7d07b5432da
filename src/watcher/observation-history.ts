// The watcher's observations over time, compact and bounded, in the cluster's state dir: nodes per group and phase, pending demand by shape.
import { appendFile, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { countByGroup } from './group-counts.js';
import type { Observation } from './observation.js';
import { describeShape } from './resource-shapes.js';

/**
 * One observation as the history keeps it: every series by key, zero where absent.
 * Keys are `nodes/<group>/<phase>` (workers of a group in a phase) and `demand/<shape>` (requests waiting for that shape).
 */
export interface HistoryPoint {
  atMs: number;
  values: Record<string, number>;
}

/** A window of the history resampled at one step: `series[key][i]` belongs to `times[i]`, null where nothing was observed. */
export interface HistoryWindow {
  stepMs: number;
  times: number[];
  series: Record<string, Array<number | null>>;
}

export interface HistoryQuery {
  sinceMs: number;
  untilMs: number;
  /** Bucket width; when absent, about 600 buckets span the window. */
  stepMs?: number;
}

const FILE = 'history.jsonl';
/** Points newer than this keep the 1 s resolution. */
const FULL_RESOLUTION_MS = 24 * 3_600_000;
/** Older points are thinned to one per this… */
const THINNED_STEP_MS = 60_000;
/** …and dropped past this age. */
const KEEP_MS = 7 * 24 * 3_600_000;
/** An unchanged point is still written this often, so a stopped watcher shows as a gap rather than a flat line. */
const HEARTBEAT_MS = 60_000;
/** No point for longer than this is a gap: the watcher was not running. Above the thinned step, so thinned days stay joined. */
const GAP_MS = 150_000;
/** Appended lines between two looks at whether old points need thinning. */
const COMPACT_EVERY = 3_600;
const MAX_BUCKETS = 2_000;

/** The point the history keeps of one watcher observation. Placement-group bundles count as demand for their shape. */
export function historyPointOf(observation: Observation): HistoryPoint {
  const values: Record<string, number> = {};
  const add = (key: string, amount: number): void => {
    values[key] = (values[key] ?? 0) + amount;
  };
  // Counted by group and phase first: a key string per worker would be 10,000 strings a tick.
  for (const [group, phases] of countByGroup(observation.workers)) {
    for (const [phase, count] of Object.entries(phases)) if (count > 0) add(`nodes/${group}/${phase}`, count);
  }
  for (const { shape, count } of observation.demand.shapes) add(`demand/${describeShape(shape)}`, count);
  for (const gang of observation.demand.gangs) for (const bundle of gang.bundles) add(`demand/${describeShape(bundle)}`, 1);
  return { atMs: observation.atMs, values };
}

export function historyFile(stateDir: string): string {
  return path.join(stateDir, FILE);
}

/**
 * The writer, held by the cluster's one watcher. The file is JSON lines: `["k", index, key]` names a series once,
 * `[epochSeconds, index, value, …]` is a point listing its non-zero series. A point equal to the one before is not
 * written (an idle cluster writes one line a minute), so 24 h at 1 s is at most 86,400 lines of about 25 bytes.
 */
export class ObservationHistory {
  private keys = new Map<string, number>();
  private lastBody: string | undefined;
  private lastSecond = -Infinity;
  private lastWrittenMs = -Infinity;
  private appendedSinceCompaction = 0;
  /** A crash mid-write leaves a line unended; the next write starts with a newline, in that same write. */
  private healTornTail = false;

  private constructor(readonly filePath: string) {}

  /** Opens the cluster's history, thinning what has grown old while no watcher ran. */
  static async open(stateDir: string, nowMs: number = Date.now()): Promise<ObservationHistory> {
    const history = new ObservationHistory(historyFile(stateDir));
    await history.compact(nowMs);
    return history;
  }

  /** Records one observation; a second one within the same second, or an unchanged one, writes nothing. */
  async append(point: HistoryPoint): Promise<void> {
    const second = Math.floor(point.atMs / 1000);
    if (second <= this.lastSecond) return;
    const { defined, body } = this.encode(point.values);
    const bodyText = JSON.stringify(body);
    if (bodyText === this.lastBody && point.atMs - this.lastWrittenMs < HEARTBEAT_MS) return;
    const lines = [...defined, JSON.stringify([second, ...body])];
    await appendFile(this.filePath, `${this.healTornTail ? '\n' : ''}${lines.join('\n')}\n`);
    this.healTornTail = false;
    this.lastBody = bodyText;
    this.lastSecond = second;
    this.lastWrittenMs = point.atMs;
    this.appendedSinceCompaction += 1;
    if (this.appendedSinceCompaction >= COMPACT_EVERY) await this.compact(point.atMs);
  }

  /** Rewrites the file when it holds points old enough to thin or drop; else only learns where it left off. */
  private async compact(nowMs: number): Promise<void> {
    this.appendedSinceCompaction = 0;
    const text = await readFile(this.filePath, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const points = parseHistory(text);
    const first = points[0];
    const rewrite = first !== undefined && first.atMs < nowMs - FULL_RESOLUTION_MS;
    const kept = rewrite ? thin(points, nowMs) : points;
    // Appending to the file unchanged must reuse its own key indices.
    this.keys = rewrite ? new Map() : keysOf(text);
    const lines: string[] = [];
    // Unchanged, only the last point matters: the next one is compared with it.
    for (const point of rewrite ? kept : kept.slice(-1)) {
      const { defined, body } = this.encode(point.values);
      if (rewrite) lines.push(...defined, JSON.stringify([Math.floor(point.atMs / 1000), ...body]));
      this.lastBody = JSON.stringify(body);
    }
    const last = kept.at(-1);
    if (last === undefined) this.lastBody = undefined;
    this.lastSecond = last === undefined ? -Infinity : Math.floor(last.atMs / 1000);
    this.lastWrittenMs = last?.atMs ?? -Infinity;
    this.healTornTail = !rewrite && text !== '' && !text.endsWith('\n');
    if (rewrite) {
      const draft = `${this.filePath}.tmp`;
      await writeFile(draft, lines.length === 0 ? '' : `${lines.join('\n')}\n`);
      await rename(draft, this.filePath);
    }
  }

  /** A point's non-zero series as `[index, value, …]`, and the key lines for series the file has not named yet. */
  private encode(values: Record<string, number>): { defined: string[]; body: number[] } {
    const defined: string[] = [];
    const body: number[] = [];
    for (const [key, value] of Object.entries(values).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (value === 0 || !Number.isFinite(value)) continue;
      let index = this.keys.get(key);
      if (index === undefined) {
        index = this.keys.size;
        this.keys.set(key, index);
        defined.push(JSON.stringify(['k', index, key]));
      }
      body.push(index, value);
    }
    return { defined, body };
  }
}

/** Points older than a day become one per minute (each series at its highest in that minute); past a week they go. */
function thin(points: HistoryPoint[], nowMs: number): HistoryPoint[] {
  const recentFrom = nowMs - FULL_RESOLUTION_MS;
  const keepFrom = nowMs - KEEP_MS;
  const kept: HistoryPoint[] = [];
  let bucket: HistoryPoint | undefined;
  for (const point of points) {
    if (point.atMs < keepFrom) continue;
    if (point.atMs >= recentFrom) {
      if (bucket !== undefined) kept.push(bucket);
      bucket = undefined;
      kept.push(point);
      continue;
    }
    const start = Math.floor(point.atMs / THINNED_STEP_MS) * THINNED_STEP_MS;
    if (bucket === undefined || bucket.atMs !== start) {
      if (bucket !== undefined) kept.push(bucket);
      bucket = { atMs: start, values: { ...point.values } };
    } else {
      for (const [key, value] of Object.entries(point.values)) bucket.values[key] = Math.max(bucket.values[key] ?? 0, value);
    }
  }
  if (bucket !== undefined) kept.push(bucket);
  return kept;
}

function keysOf(text: string): Map<string, number> {
  const keys = new Map<string, number>();
  for (const line of text.split('\n')) {
    const entry = parseLine(line);
    if (Array.isArray(entry) && entry[0] === 'k' && typeof entry[1] === 'number' && typeof entry[2] === 'string') keys.set(entry[2], entry[1]);
  }
  return keys;
}

function parseLine(line: string): unknown {
  if (line.trim() === '') return undefined;
  try {
    return JSON.parse(line) as unknown;
  } catch {
    // A line torn by a crash: the lines after it are whole.
    return undefined;
  }
}

/** Every point of a history file's text, in order; torn or unknown lines are skipped. */
export function parseHistory(text: string, keys: Map<number, string> = new Map()): HistoryPoint[] {
  const points: HistoryPoint[] = [];
  for (const line of text.split('\n')) {
    const entry = parseLine(line);
    if (!Array.isArray(entry)) continue;
    if (entry[0] === 'k') {
      if (typeof entry[1] === 'number' && typeof entry[2] === 'string') keys.set(entry[1], entry[2]);
      continue;
    }
    if (typeof entry[0] !== 'number') continue;
    const values: Record<string, number> = {};
    for (let i = 1; i + 1 < entry.length; i += 2) {
      const key = keys.get(entry[i] as number);
      const value = entry[i + 1];
      if (key !== undefined && typeof value === 'number') values[key] = value;
    }
    points.push({ atMs: entry[0] * 1000, values });
  }
  return points;
}

/**
 * Reads a cluster's history for the dashboard, in another process than the writer: only the bytes appended since the
 * last read are parsed, and a rewritten file (thinned: a new inode) is read again from its start.
 */
export class ObservationHistoryReader {
  private points: HistoryPoint[] = [];
  private keys = new Map<number, string>();
  private offset = 0;
  private inode = -1;
  private partial = '';

  constructor(readonly filePath: string) {}

  async query(query: HistoryQuery): Promise<HistoryWindow> {
    await this.refresh();
    return resample(this.points, query);
  }

  private async refresh(): Promise<void> {
    const info = await stat(this.filePath).catch(() => undefined);
    if (info === undefined) {
      this.reset(-1);
      return;
    }
    if (info.ino !== this.inode || info.size < this.offset) this.reset(info.ino);
    if (info.size === this.offset) return;
    const handle = await open(this.filePath, 'r');
    try {
      const buffer = Buffer.alloc(info.size - this.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset += bytesRead;
      const text = this.partial + buffer.subarray(0, bytesRead).toString('utf8');
      const end = text.lastIndexOf('\n');
      // A line still being written waits for its end.
      this.partial = text.slice(end + 1);
      this.points.push(...parseHistory(text.slice(0, end + 1), this.keys));
    } finally {
      await handle.close();
    }
  }

  private reset(inode: number): void {
    this.points = [];
    this.keys = new Map();
    this.offset = 0;
    this.partial = '';
    this.inode = inode;
  }
}

/** Buckets of `stepMs` over the window: each series at its highest in the bucket, carried over quiet buckets, null over gaps. */
export function resample(points: HistoryPoint[], query: HistoryQuery): HistoryWindow {
  const span = Math.max(1000, query.untilMs - query.sinceMs);
  const stepMs = Math.max(1000, query.stepMs ?? Math.ceil(span / 600 / 1000) * 1000, Math.ceil(span / MAX_BUCKETS / 1000) * 1000);
  const start = Math.floor(query.sinceMs / stepMs) * stepMs;
  const count = Math.floor((query.untilMs - start) / stepMs) + 1;
  const keys = new Set<string>();
  for (const point of points) if (point.atMs <= query.untilMs) for (const key of Object.keys(point.values)) keys.add(key);
  const series: Record<string, Array<number | null>> = {};
  for (const key of keys) series[key] = new Array<number | null>(count).fill(null);
  const times = Array.from({ length: count }, (_, i) => start + i * stepMs);
  let index = lowerBound(points, start);
  // The point before the window holds until the first one inside it, unless it is too old to trust.
  let carried = index > 0 ? points[index - 1] : undefined;
  for (let bucket = 0; bucket < count; bucket += 1) {
    const bucketStart = times[bucket] as number;
    const bucketEnd = bucketStart + stepMs;
    const inBucket: HistoryPoint[] = [];
    while (index < points.length && (points[index] as HistoryPoint).atMs < bucketEnd) inBucket.push(points[index++] as HistoryPoint);
    const sources = inBucket.length > 0 ? inBucket : carried !== undefined && bucketStart - carried.atMs <= GAP_MS ? [carried] : [];
    if (sources.length > 0) {
      for (const key of keys) {
        let highest = 0;
        for (const source of sources) highest = Math.max(highest, source.values[key] ?? 0);
        (series[key] as Array<number | null>)[bucket] = highest;
      }
    }
    if (inBucket.length > 0) carried = inBucket.at(-1);
  }
  return { stepMs, times, series };
}

function lowerBound(points: HistoryPoint[], atMs: number): number {
  let low = 0;
  let high = points.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((points[middle] as HistoryPoint).atMs < atMs) low = middle + 1;
    else high = middle;
  }
  return low;
}
