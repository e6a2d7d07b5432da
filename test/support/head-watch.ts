// An e2e file whose local cluster lost its head stops at the first test that sees it, with the GCS's last lines, instead
// of timing out test after test. Every test cluster is watched from `createTestCluster` until its `down`.
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { clusterPaths } from '../../src/fleet/state-dir.js';
import { readProcStat } from '../../src/process/proc-stat.js';
import { headName } from '../../src/providers/node-names.js';

/** How often the head's process is looked at. */
const LOOK_MS = 1_000;
/**
 * A head is lost once its `ray start --block` has exited saying a process of its node died unexpectedly, or once its
 * record names a process group with nothing left in it, for this long: `down` and `restart` remove the record as soon as
 * the group is gone (and a stop by signal is no unexpected exit), while a head whose GCS died keeps its record.
 */
const GONE_FOR_MS = 2_500;
const TAIL_LINES = 40;

export interface HeadWatch {
  /** Aborted, with an error carrying the GCS log's tail, once the head is lost: waits given it end at once. */
  readonly lost: AbortSignal;
  /** Stops watching (the cluster went down, or a test is about to kill its head on purpose). */
  stop(): void;
  /** Watches again (after a test brought the head back). */
  resume(): void;
}

const watches = new Set<HeadWatch>();

/** The first lost head among the clusters watched now, if any. */
export function lostHead(): Error | undefined {
  for (const watch of watches) if (watch.lost.aborted) return watch.lost.reason as Error;
  return undefined;
}

/** Watches a local cluster's head by its node record: its leader process gone for a while is a lost head. */
export function watchHead(cluster: string, stateDir: string): HeadWatch {
  const recordFile = path.join(stateDir, 'nodes', `${headName(cluster)}.json`);
  const logFile = path.join(stateDir, 'logs', `${headName(cluster)}.log`);
  const controller = new AbortController();
  let goneSince: { pid: number; atMs: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const look = (): void => {
    const pid = headPid(recordFile);
    // `ray start --block` says at once when a process of its node died; it then waits for the rest (the raylet waits a
    // minute for a dead GCS), so the line alone means lost. A stop by rayfleet (SIGTERM) is a graceful exit, never said.
    const crashed = pid !== undefined && saysSubprocessDied(logFile);
    if (pid === undefined || (!crashed && (processAlive(pid) || groupAlive(pid)))) {
      goneSince = undefined;
      return;
    }
    if (goneSince?.pid !== pid) goneSince = { pid, atMs: Date.now() };
    else if (Date.now() - goneSince.atMs >= GONE_FOR_MS) {
      const why = crashed ? 'a Ray process of its node died' : `its process group ${pid} has ended`;
      const report = new Error(`the head of cluster ${cluster} is gone (${why}): the rest of this file cannot pass.\n${gcsLogTail(stateDir)}`);
      console.error(report.message);
      controller.abort(report);
      watch.stop();
    }
  };
  const watch: HeadWatch = {
    lost: controller.signal,
    stop: () => {
      clearInterval(timer);
      timer = undefined;
    },
    resume: () => {
      if (timer !== undefined || controller.signal.aborted) return;
      timer = setInterval(look, LOOK_MS);
      timer.unref();
    },
  };
  watches.add(watch);
  watch.resume();
  return watch;
}

/** Forgets a watch (its cluster is down). */
export function forgetHead(watch: HeadWatch): void {
  watch.stop();
  watches.delete(watch);
}

function headPid(recordFile: string): number | undefined {
  try {
    const pid = (JSON.parse(readFileSync(recordFile, 'utf8')) as { pid?: unknown }).pid;
    return typeof pid === 'number' && pid > 0 ? pid : undefined;
  } catch {
    // No record (before `up`, after `down`) or one being written: nothing to judge.
    return undefined;
  }
}

/** A zombie has ended: nothing reaps orphans here, and kill(pid, 0) would count it alive. */
function processAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** Whether the head's current start (after rayfleet's last "starting" line) logged a Ray process that exited unexpectedly. */
function saysSubprocessDied(logFile: string): boolean {
  return currentStartLog(logFile).includes('Some Ray subprocesses exited unexpectedly');
}

/**
 * Whether the head's `ray start --block` has reached the loop that watches its processes. It gets there only after
 * writing to the GCS (usage records), well after Ray shows the head alive; a GCS killed before then leaves it retrying
 * those writes for a minute or more, so a test that kills a GCS to see it reported waits for this first.
 */
export function headSupervised(cluster: string, stateDir: string): boolean {
  return currentStartLog(path.join(stateDir, 'logs', `${headName(cluster)}.log`)).includes('This command will now block forever');
}

/** The head's log since rayfleet's last "starting" line (its last 256 KiB at most); empty when unreadable. */
function currentStartLog(logFile: string): string {
  let text: string;
  try {
    const size = statSync(logFile).size;
    const descriptor = openSync(logFile, 'r');
    const buffer = Buffer.alloc(Math.min(size, 256 * 1024));
    readSync(descriptor, buffer, 0, buffer.length, size - buffer.length);
    closeSync(descriptor);
    text = buffer.toString('utf8');
  } catch {
    return '';
  }
  return text.slice(Math.max(0, text.lastIndexOf('--- rayfleet: starting')));
}

/** Whether any live process is left in the process group `pgid` (a node shutting down in order). */
function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat !== undefined && stat.pgid === pgid && stat.state !== 'Z') return true;
  }
  return false;
}

/** The last lines of the GCS's log (and its stderr) in the head's Ray session, which only the head's session has. */
export function gcsLogTail(stateDir: string): string {
  const sessions = clusterPaths(stateDir).rayTempDir;
  const found: string[] = [];
  for (const node of existsSync(sessions) ? readdirSync(sessions) : []) {
    for (const file of ['gcs_server.out', 'gcs_server.err']) {
      const logFile = path.join(sessions, node, 'session_latest', 'logs', file);
      if (!existsSync(logFile)) continue;
      const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-TAIL_LINES);
      found.push(`--- ${logFile} (last ${lines.length} lines) ---`, ...lines);
    }
  }
  return found.length > 0 ? found.join('\n') : `(no GCS log under ${sessions})`;
}
