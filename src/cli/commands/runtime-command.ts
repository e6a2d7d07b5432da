// runtime install|info: the Python venv with pinned Ray that every node runs.
import { Command } from 'commander';
import { RayfleetError } from '../../errors.js';
import { ensureRuntime, findRuntime } from '../../ray/runtime.js';
import { resolveSpec, withCommonOptions, type CommonOptions } from '../context.js';
import { printJson, printLine, progressReporter } from '../output.js';

interface RuntimeOptions extends CommonOptions {
  json?: boolean;
}

export function runtimeCommand(): Command {
  const runtime = new Command('runtime').description("the Python venv with pinned Ray that rayfleet's nodes run");
  withCommonOptions(runtime.command('install').description('create the venv now (it is also created on first need)').option('--json', 'print JSON')).action(
    async (options: RuntimeOptions) => {
      const spec = await resolveSpec(options);
      const installed = await ensureRuntime({ rayVersion: spec.ray.version, python: spec.ray.python, onProgress: progressReporter(options.json !== true) });
      if (options.json === true) printJson(installed);
      else printLine(`ray ${installed.rayVersion} with python ${installed.pythonVersion} at ${installed.python}`);
    },
  );
  withCommonOptions(runtime.command('info').description('the interpreter and Ray the nodes use, without installing').option('--json', 'print JSON')).action(
    async (options: RuntimeOptions) => {
      const spec = await resolveSpec(options);
      const found = await findRuntime({ rayVersion: spec.ray.version, python: spec.ray.python });
      if (found === undefined) {
        throw new RayfleetError('RAY_NOT_INSTALLED', `no runtime for ray ${spec.ray.version} yet`, { details: 'Run `rayfleet runtime install`, or any command that needs it.' });
      }
      if (options.json === true) printJson(found);
      else {
        printLine(`python  ${found.python} (${found.pythonVersion})`);
        printLine(`ray     ${found.ray} (${found.rayVersion})`);
        printLine(`venv    ${found.venv ?? '(your own interpreter)'}`);
      }
    },
  );
  return runtime;
}
