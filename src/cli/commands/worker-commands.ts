// add-worker and remove-worker: one node at a time, by hand.
import { Command } from 'commander';
import { parsePositiveWholeNumber } from '../option-parsers.js';
import { openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { interruptSignal, withStake } from '../interruption.js';
import { printJson, printLine } from '../output.js';

interface AddWorkerOptions extends CommonOptions {
  group?: string;
  count: number;
  json?: boolean;
}

interface RemoveWorkerOptions extends CommonOptions {
  force?: boolean;
}

export function addWorkerCommand(): Command {
  const command = new Command('add-worker')
    .description('start workers at the lowest free indices of a group and wait until Ray has them')
    .option('--group <name>', 'the worker group (default: "worker", else the first group)')
    .option('--count <n>', 'how many', parsePositiveWholeNumber, 1)
    .option('--json', 'print the new nodes as JSON');
  withCommonOptions(command).action(async (options: AddWorkerOptions) => {
    const fleet = await openFleet(options, {}, options.json !== true);
    await withFleet(fleet, async () => {
      const launched = await withStake(`workers being added to ${fleet.name} (see \`rayfleet status -c ${fleet.name}\`)`, () =>
        fleet.addWorkers({ group: options.group, count: options.count, signal: interruptSignal }),
      );
      if (options.json === true) printJson(launched);
      else for (const instance of launched) printLine(`${instance.name} joined the cluster`);
    });
  });
  return command;
}

export function removeWorkerCommand(): Command {
  const command = new Command('remove-worker')
    .description('drain a worker in Ray, then stop it; a busy worker is refused unless --force')
    .argument('<name>', 'the node, e.g. ray-worker-2')
    .option('--force', 'stop it even if Ray says it is busy');
  withCommonOptions(command).action(async (name: string, options: RemoveWorkerOptions) => {
    const fleet = await openFleet(options, {}, false);
    await withFleet(fleet, async () => {
      await withStake(`${name}, being drained`, () => fleet.removeWorker(name, { force: options.force === true, signal: interruptSignal }));
      printLine(`${name} removed`);
    });
  });
  return command;
}
