// spec schema|show: the JSON Schema for editors, and the spec as rayfleet resolves it.
import { Command } from 'commander';
import { clusterSpecJsonSchema } from '../../spec/schema.js';
import { resolveSpec, withCommonOptions, type CommonOptions } from '../context.js';
import { printJson } from '../output.js';

export function specCommand(): Command {
  const spec = new Command('spec').description('the cluster spec (rayfleet.yaml)');
  spec
    .command('schema')
    .description('print the JSON Schema of rayfleet.yaml, for editors')
    .action(() => printJson(clusterSpecJsonSchema()));
  withCommonOptions(spec.command('show').description('print the resolved spec: defaults, file, env and flags merged')).action(async (options: CommonOptions) => {
    printJson(await resolveSpec(options));
  });
  return spec;
}
