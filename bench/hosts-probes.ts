// What bench:hosts looks at, the same way for rayfleet's hosts and Ray's launcher's: nodes alive in a head's dashboard
// and Ray processes left on a host (each over one plain ssh), and a watcher process here (its CPU and its children).
import { readFileSync, readdirSync } from 'node:fs';
import { execa } from 'execa';

/** One ssh command with the test hosts' own config; stdin carries what must stay off command lines (a token). */
export async function sshRun(configFile: string, address: string, command: string, input = ''): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const result = await execa('ssh', ['-F', configFile, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', address, command], { input, reject: false, timeout: 30_000 });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Nodes ALIVE in Ray's dashboard on the head host (`/nodes?view=summary`, which the dashboard keeps from the GCS's node
 * table), asked on the head host itself at 127.0.0.1:8265: Ray's launcher binds its dashboard there, rayfleet's to
 * 0.0.0.0. Only the standard library runs (no `import ray`), so a look costs both sides the same ssh and a small Python.
 * Undefined while the dashboard does not answer.
 */
export async function aliveNodes(configFile: string, head: string, token: string | undefined): Promise<number | undefined> {
  const script = [
    'import json, urllib.request',
    "request = urllib.request.Request('http://127.0.0.1:8265/nodes?view=summary')",
    ...(token === undefined ? [] : [`request.add_header('Authorization', 'Bearer ${token}')`]),
    'try:',
    '    summary = json.load(urllib.request.urlopen(request, timeout=3))["data"]["summary"]',
    "    print(sum(1 for node in summary if (node.get('raylet') or {}).get('state') == 'ALIVE'))",
    'except Exception as error:',
    "    print('no answer:', error)",
  ].join('\n');
  // /opt/ray/bin/python: the image's interpreter on both sides, not on the login PATH of rayfleet's hosts.
  const { stdout } = await sshRun(configFile, head, '/opt/ray/bin/python -', script);
  const count = Number(stdout.trim());
  return Number.isInteger(count) && stdout.trim() !== '' ? count : undefined;
}

/**
 * Ray's processes on a host, one `pid command` a line: every process of Ray's install (/opt/ray/…, which `ray start`,
 * the GCS, raylet, dashboard, its agents and the log monitor run from), Ray's task workers (`ray::…`, their renamed
 * title) and rayfleet's host agent. The brackets keep the pattern from matching the shell that carries it.
 */
export async function rayProcesses(configFile: string, address: string): Promise<string[]> {
  const { stdout } = await sshRun(configFile, address, "pgrep -af '[/]opt/ray/|[r]ay::|[r]aylet|[g]cs_server|[h]ost_agent' || true");
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

/** utime + stime of a process here, in clock ticks (USER_HZ, 100 a second on Linux). */
export function cpuTicksOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // After "pid (comm) ": state is field 3, utime 14, stime 15.
  return Number(fields[11]) + Number(fields[12]);
}

/** cutime + cstime: the CPU of its children that it has waited for. */
export function childCpuTicksOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[13]) + Number(fields[14]);
}

/** The pids of a process's children now, from every thread's `children` list (Linux's own, no scan of /proc). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const thread of readdirSync(`/proc/${pid}/task`)) {
    let list: string;
    try {
      list = readFileSync(`/proc/${pid}/task/${thread}/children`, 'utf8').trim();
    } catch {
      // The thread ended between the listing and the read.
      continue;
    }
    if (list !== '') children.push(...list.split(' ').map(Number));
  }
  return children;
}

/** A process's command line, for naming its children. */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '(gone)';
  }
}
