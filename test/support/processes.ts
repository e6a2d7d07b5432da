// Which processes on this machine belong to a cluster: those carrying one of its node names in RAY_CLOUD_INSTANCE_ID.
import { readdirSync, readFileSync } from 'node:fs';

export function processesOfNodes(nodeNames: string[]): number[] {
  const names = new Set(nodeNames);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) continue;
    } catch {
      continue;
    }
    const instance = environ.split('\0').find((variable) => variable.startsWith('RAY_CLOUD_INSTANCE_ID='));
    if (instance !== undefined && names.has(instance.slice('RAY_CLOUD_INSTANCE_ID='.length))) pids.push(Number(entry));
  }
  return pids;
}
