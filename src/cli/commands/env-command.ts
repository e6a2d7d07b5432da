// env: what a Ray driver needs to connect to the cluster, as export lines or JSON.
import { Command } from 'commander';
import { openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { printJson, printLine } from '../output.js';
import { describePorts } from './status-command.js';

interface EnvOptions extends CommonOptions {
  json?: boolean;
}

/** Quoted for a POSIX shell, so `eval "$(rayfleet env)"` is safe whatever the paths hold. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export function envCommand(): Command {
  const command = new Command('env').description('the environment a Ray driver needs to reach this cluster: eval "$(rayfleet env)"').option('--json', 'print JSON');
  withCommonOptions(command).action(async (options: EnvOptions) => {
    const fleet = await openFleet(options, {}, false);
    await withFleet(fleet, async () => {
      const remote = fleet.declaredSpec.watcher.headAddress;
      if (remote !== undefined && !(await fleet.exists())) {
        // A cluster started elsewhere, as the old toolkit's RAY_HEAD_ADDRESS named it (a Ray client address, host:port).
        const env = { RAY_ADDRESS: remote.startsWith('ray://') ? remote : `ray://${remote}` };
        if (options.json === true) printJson(env);
        else printLine(`# cluster ${fleet.name} is not up here: its head at RAY_HEAD_ADDRESS\nexport RAY_ADDRESS=${shellQuote(env.RAY_ADDRESS)}`);
        return;
      }
      const env = await fleet.connectionEnv();
      const endpoints = await fleet.endpoints();
      // The JSON is the environment alone, so a script can hand it to a driver as it is.
      if (options.json === true) {
        printJson(env);
        return;
      }
      printLine(`# cluster ${fleet.name}: ${describePorts(endpoints.ports)}; Serve at ${endpoints.serveUrl}`);
      for (const [name, value] of Object.entries(env)) printLine(`export ${name}=${shellQuote(value)}`);
    });
  });
  return command;
}
