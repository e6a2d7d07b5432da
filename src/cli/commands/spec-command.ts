// spec schema|show|diff: the JSON Schema for editors, the spec as rayfleet resolves it, and a running cluster's against it.
import { Command } from 'commander';
import { formatChanges } from '../../fleet/spec-changes.js';
import { clusterSpecJsonSchema } from '../../spec/schema.js';
import { openFleet, resolveSpec, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { printJson, printLine } from '../output.js';

interface DiffOptions extends CommonOptions {
  json?: boolean;
}

export function specCommand(): Command {
  const spec = new Command('spec').description('the cluster spec (rayfleet.yaml)');
  spec
    .command('schema')
    .description('print the JSON Schema of rayfleet.yaml, for editors')
    .action(() => printJson(clusterSpecJsonSchema()));
  withCommonOptions(spec.command('show').description('print the resolved spec: defaults, file, env and flags merged')).action(async (options: CommonOptions) => {
    printJson(await resolveSpec(options));
  });
  withCommonOptions(
    spec
      .command('diff')
      .description("the running cluster's saved spec against the current file, env and flags: what `up` would apply live, and what needs `restart`")
      .option('--json', 'print JSON'),
  ).action(async (options: DiffOptions) => {
    const fleet = await openFleet(options, {}, false);
    await withFleet(fleet, async () => {
      if (!(await fleet.exists())) {
        printLine(`cluster ${fleet.name} is not up: nothing is saved to compare with`);
        return;
      }
      const changes = fleet.specDiff();
      if (options.json === true) printJson(changes);
      else printLine(changes.length === 0 ? `cluster ${fleet.name} runs the spec as declared` : `saved → declared:\n${formatChanges(changes)}`);
    });
  });
  return spec;
}
