// up, down, restart: a cluster's whole life, under their names and the old toolkit's (start-ray, stop-ray, restart-ray).
import { Command, Option } from 'commander';
import type { SpecOverrides } from '../../spec/overrides.js';
import { parseAmount, parseWholeNumber } from '../option-parsers.js';
import { openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { interruptSignal } from '../interruption.js';
import { printJson, printLine } from '../output.js';
import { printStatus } from './status-command.js';
import { startBackgroundWatcher } from './watcher-commands.js';
import { runningWatcherPid, stopWatcherService } from '../../watcher/watcher-service.js';
import type { Fleet } from '../../fleet/fleet.js';

interface UpOptions extends CommonOptions {
  numWorkers?: number;
  numCpus?: number;
  numGpus?: number;
  objectStoreMemory?: string;
  provider?: string;
  image?: string;
  watcher: boolean;
  json?: boolean;
}

function addNodeShapeOptions(command: Command): Command {
  return command
    .option('--num-workers <n>', 'workers of the default group to start (its min)', parseWholeNumber)
    .option('--num-cpus <n>', 'CPUs of each node (head and default workers)', parseAmount)
    .option('--num-gpus <n>', 'GPUs of each node (head and default workers)', parseAmount)
    .option('--object-store-memory <size>', 'object store of each node: 1GB, 512MB, 1GiB or bytes')
    .addOption(new Option('--provider <type>', 'where the nodes run (RAYFLEET_PROVIDER)').choices(['local', 'docker', 'cai']))
    .option('--image <image>', 'the image of every node, for provider docker (RAY_IMAGE_VERSION)')
    .addOption(new Option('--no-watcher', 'do not start the watcher (autoscaler)'))
    .option('--json', 'print the cluster status as JSON');
}

function overridesOf(options: UpOptions): SpecOverrides {
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

/** The watcher comes with the cluster unless the spec or --no-watcher says otherwise. */
async function startWatcherIfWanted(fleet: Fleet, options: UpOptions): Promise<string> {
  if (!fleet.spec.watcher.enabled) return 'watcher: off';
  // On Cloudera AI the watcher runs inside the head application, where the GCS is reachable.
  if (fleet.spec.provider.type === 'cai') return 'watcher: in the head application';
  const running = await runningWatcherPid(fleet.paths.root);
  if (running !== undefined) return `watcher: running (pid ${running})`;
  return `watcher: started (pid ${await startBackgroundWatcher(fleet, { cluster: fleet.name, config: options.config })})`;
}

export function upCommand(): Command {
  const command = new Command('up')
    .alias('start-ray')
    .description('start the cluster: the head, then every group\'s minimum of workers in parallel; returns once all are in Ray');
  withCommonOptions(addNodeShapeOptions(command)).action(async (options: UpOptions) => {
    const fleet = await openFleet(options, overridesOf(options), options.json !== true);
    await withFleet(fleet, async () => {
      const status = await fleet.up(interruptSignal);
      const watcher = await startWatcherIfWanted(fleet, options);
      if (options.json === true) printJson(status);
      else {
        printStatus(status);
        printLine(watcher);
        printLine(`\nRay dashboard: ${status.dashboardUrl}`);
        printLine(`Connect a driver: eval "$(rayfleet env -c ${status.cluster})"`);
      }
    });
  });
  return command;
}

export function downCommand(): Command {
  const command = new Command('down').alias('stop-ray').description('stop every node of the cluster (and nothing else)');
  withCommonOptions(command).action(async (options: CommonOptions) => {
    const fleet = await openFleet(options);
    await withFleet(fleet, async () => {
      // The watcher first, or it would replace the nodes being stopped.
      await stopWatcherService(fleet.paths.root);
      await fleet.down();
      printLine(`cluster ${fleet.name} is down`);
    });
  });
  return command;
}

export function restartCommand(): Command {
  const command = new Command('restart').alias('restart-ray').description('down, then up with the same spec');
  withCommonOptions(addNodeShapeOptions(command)).action(async (options: UpOptions) => {
    const fleet = await openFleet(options, overridesOf(options), options.json !== true);
    await withFleet(fleet, async () => {
      await stopWatcherService(fleet.paths.root);
      const status = await fleet.restart(interruptSignal);
      const watcher = await startWatcherIfWanted(fleet, options);
      if (options.json === true) printJson(status);
      else {
        printStatus(status);
        printLine(watcher);
      }
    });
  });
  return command;
}
