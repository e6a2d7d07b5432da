// up, down, restart: a cluster's whole life, under their names and the old toolkit's (start-ray, stop-ray, restart-ray).
import { Command, Option } from 'commander';
import type { ClusterStatus } from '../../fleet/cluster-status.js';
import type { Fleet } from '../../fleet/fleet.js';
import type { FrontDoor } from '../../providers/node-provider.js';
import type { SpecOverrides } from '../../spec/overrides.js';
import { PROVIDER_TYPES } from '../../spec/schema.js';
import { parseAmount, parseWholeNumber } from '../option-parsers.js';
import { openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { interruptSignal, withStake } from '../interruption.js';
import { printJson, printLine } from '../output.js';
import { printStatus } from './status-command.js';
import { clustersUpHere } from '../../fleet/state-dir.js';
import { readDashboardService, startDashboardService, stopDashboardService } from '../../server/dashboard-service.js';

export interface UpOptions extends CommonOptions {
  numWorkers?: number;
  numCpus?: number;
  numGpus?: number;
  objectStoreMemory?: string;
  provider?: string;
  image?: string;
  insecureHostKeys?: boolean;
  watcher: boolean;
  json?: boolean;
}

interface DownOptions extends CommonOptions {
  force?: boolean;
}

function addNodeShapeOptions(command: Command): Command {
  return command
    .option('--num-workers <n>', 'workers of the default group to start (its min)', parseWholeNumber)
    .option('--num-cpus <n>', 'CPUs of each node (head and default workers)', parseAmount)
    .option('--num-gpus <n>', 'GPUs of each node (head and default workers)', parseAmount)
    .option('--object-store-memory <size>', 'object store of each node: 1GB, 512MB, 1GiB or bytes')
    .addOption(new Option('--provider <type>', 'where the nodes run (RAYFLEET_PROVIDER)').choices(PROVIDER_TYPES))
    .option('--image <image>', 'the image of every node, for provider docker (RAY_IMAGE_VERSION)')
    .option('--insecure-host-keys', 'for provider ssh: accept any host key and remember none (for throwaway test hosts only: anyone on the network path can pose as a host)')
    .addOption(new Option('--no-watcher', 'do not start the watcher (autoscaler)'))
    .option('--json', 'print the cluster status as JSON');
}

/** What `up`'s flags change in the spec; `run` takes the same flags. */
export function overridesOf(options: Omit<UpOptions, keyof CommonOptions | 'json'>): SpecOverrides {
  return {
    numWorkers: options.numWorkers,
    numCpus: options.numCpus,
    numGpus: options.numGpus,
    objectStoreMemory: options.objectStoreMemory,
    provider: options.provider,
    image: options.image,
    // commander makes --no-watcher default to true; only an explicit --no-watcher overrides the spec.
    watcher: options.watcher === false ? false : undefined,
  };
}

async function describeWatcher(fleet: Fleet): Promise<string> {
  if (!fleet.spec.watcher.enabled) return 'watcher: off';
  const place = await fleet.watcher.place();
  if (place.runs === 'in-head') return 'watcher: in the head application';
  if (place.runs === 'nowhere') return 'watcher: not running (start it with `rayfleet watcher start`)';
  return `watcher: running (pid ${place.pid})${fleet.spec.watcher.paused === true ? ', paused' : ''}`;
}

/** The machine's one dashboard, started with the first cluster that wants it; the control plane sits above the library. */
async function ensureDashboard(fleet: Fleet): Promise<string | undefined> {
  if (!fleet.spec.dashboard.enabled) return undefined;
  return (await startDashboardService({ port: fleet.spec.dashboard.port, startedBy: 'up', anyPortIfTaken: true })).url;
}

/** `down` of the last cluster stops a dashboard that `up` started; one started by hand stays. */
async function stopDashboardIfLast(): Promise<void> {
  const running = await readDashboardService();
  if (running?.startedBy === 'up' && (await clustersUpHere()).length === 0) await stopDashboardService();
}

async function printUp(fleet: Fleet, status: ClusterStatus, options: UpOptions, withHints: boolean): Promise<void> {
  const dashboard = await ensureDashboard(fleet);
  if (options.json === true) {
    printJson(status);
    return;
  }
  printStatus(status);
  printLine(await describeWatcher(fleet));
  if (!withHints) return;
  printFrontDoor(status.cluster, await fleet.frontDoor());
  if (dashboard !== undefined) printLine(`\nrayfleet dashboard: ${dashboard}/clusters/${status.cluster}`);
  printLine(`${dashboard === undefined ? '\n' : ''}Ray dashboard: ${status.dashboardUrl}`);
  printLine(`Connect a driver: eval "$(rayfleet env -c ${status.cluster})"`);
}

/** A cluster reached from outside its network through a front door (a CML head application): rayfleet's dashboard and Ray's behind it. */
function printFrontDoor(cluster: string, door: FrontDoor | undefined): void {
  if (door === undefined) return;
  printLine(`\n${door.name}: ${door.url} (rayfleet's dashboard for ${cluster}; Ray's dashboard at ${door.rayDashboardUrl})`);
  printLine(`Its token: rayfleet dashboard --token -c ${cluster}`);
}

export function upCommand(): Command {
  const command = new Command('up')
    .alias('start-ray')
    .description(
      "start the cluster: the head, then every group's minimum of workers in parallel, then the watcher; returns once all are in Ray. " +
        'On a running cluster, applies what can change live (groups\' min and max, new groups, watcher settings) and refuses the rest with a diff',
    );
  withCommonOptions(addNodeShapeOptions(command)).action(async (options: UpOptions) => {
    const fleet = await openFleet(options, overridesOf(options), options.json !== true);
    await withFleet(fleet, async () => printUp(fleet, await withStake(`cluster ${fleet.name}, coming up (\`rayfleet down -c ${fleet.name}\` stops it)`, () => fleet.up(interruptSignal)), options, true));
  });
  return command;
}

export function downCommand(): Command {
  const command = new Command('down')
    .alias('stop-ray')
    .description('stop the watcher, then every node of the cluster (and nothing else)')
    .option('--force', "go on when the cluster's saved record is damaged (stop what the provider lists for this spec), and forget nodes on hosts that do not answer");
  withCommonOptions(command).action(async (options: DownOptions) => {
    const fleet = await openFleet(options);
    await withFleet(fleet, async () => {
      await withStake(`cluster ${fleet.name}, partly stopped (run \`rayfleet down -c ${fleet.name}\` again)`, () => fleet.down(interruptSignal, { force: options.force === true }));
      await stopDashboardIfLast();
      printLine(`cluster ${fleet.name} is down`);
    });
  });
  return command;
}

export function restartCommand(): Command {
  const command = new Command('restart').alias('restart-ray').description('down, then up with the spec as the file, env and flags give it now');
  withCommonOptions(addNodeShapeOptions(command)).action(async (options: UpOptions) => {
    const fleet = await openFleet(options, overridesOf(options), options.json !== true);
    await withFleet(fleet, async () => printUp(fleet, await withStake(`cluster ${fleet.name}, restarting`, () => fleet.restart(interruptSignal)), options, false));
  });
  return command;
}
