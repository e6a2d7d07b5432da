// serve deploy | status | delete | shutdown: Ray Serve applications on a cluster, deployed one application at a time.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { RayfleetError, messageOf } from '../../errors.js';
import type { ApplicationSummary, FleetServe } from '../../fleet/fleet-serve.js';
import type { Fleet } from '../../fleet/fleet.js';
import type { ServeDeployConfig } from '../../ray/serve-client.js';
import { formatTable } from '../format-table.js';
import { openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { interruptSignal } from '../interruption.js';
import { printJson, printLine } from '../output.js';
import { explainUnreachable } from '../unreachable-head.js';

async function withServe<T>(options: CommonOptions, work: (serve: FleetServe, fleet: Fleet) => Promise<T>): Promise<T> {
  const fleet = await openFleet(options, {}, false);
  return withFleet(fleet, async () => {
    try {
      return await work(fleet.serve, fleet);
    } catch (error) {
      throw explainUnreachable(fleet, error);
    }
  });
}

/** A Serve config file, YAML or JSON, in Ray's schema. */
export async function readServeConfig(file: string): Promise<ServeDeployConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new RayfleetError('USAGE', `cannot read ${file}: ${messageOf(error)}`, { cause: error });
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new RayfleetError('SERVE_CONFIG_INVALID', `${file} is not YAML or JSON: ${messageOf(error)}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('applications' in value)) {
    throw new RayfleetError('SERVE_CONFIG_INVALID', `${file} is not a Serve config: it needs \`applications: [{ name, import_path, … }]\` (Ray's multi-application schema, as \`serve build\` writes it)`);
  }
  return value as ServeDeployConfig;
}

function replicaCounts(replicas: Record<string, number>): string {
  const entries = Object.entries(replicas);
  return entries.length === 0 ? 'no replicas' : entries.map(([state, count]) => `${count} ${state}`).join(', ');
}

function printApplications(applications: ApplicationSummary[]): void {
  printLine(formatTable(['APPLICATION', 'STATUS', 'ROUTE', 'URL'], applications.map((app) => [app.name, app.status, app.routePrefix ?? '-', app.url ?? '-'])));
  for (const app of applications) {
    for (const deployment of app.deployments) printLine(`  ${app.name}/${deployment.name}: ${deployment.status}, ${replicaCounts(deployment.replicas)}`);
    if (app.message !== '' && app.status !== 'RUNNING') printLine(`  ${app.name}: ${app.message.trim().split('\n').at(-1) ?? ''}`);
  }
}

function deployCommand(): Command {
  const command = new Command('deploy')
    .description(
      "deploy the applications of a Serve config (Ray's schema, YAML or JSON) and keep every other application running; " +
        'a local runtime_env working_dir or py_modules path (relative to the file) is uploaded first. Waits until each is RUNNING, ' +
        'or exits 1 with DEPLOY_FAILED and Ray\'s message',
    )
    .argument('<file>', 'the Serve config: `applications: [{ name, import_path, route_prefix, runtime_env, deployments }]`')
    .option('--app <name>', 'deploy only this application of the file')
    .addOption(new Option('--no-wait', 'return once Ray has the config, without waiting for RUNNING'))
    .option('--json', 'print the result as JSON');
  withCommonOptions(command).action(async (file: string, options: CommonOptions & { app?: string; wait: boolean; json?: boolean }) => {
    const config = await readServeConfig(file);
    await withServe(options, async (serve, fleet) => {
      const result = await serve.deploy({ config, baseDir: path.dirname(path.resolve(file)), app: options.app, wait: options.wait, signal: interruptSignal });
      for (const line of result.notes) process.stderr.write(`note: ${line}\n`);
      if (options.json === true) {
        printJson(result);
        return;
      }
      for (const pkg of result.uploaded) printLine(`uploaded ${pkg.source} as ${pkg.uri}`);
      printApplications(result.applications);
      if (result.attempts > 1) printLine(`(${result.attempts} rounds: another deploy changed the applications meanwhile; both are kept)`);
      if (!options.wait) printLine(`Deploying; see \`rayfleet serve status -c ${fleet.name}\``);
    });
  });
  return command;
}

function statusCommand(): Command {
  const command = new Command('status')
    .description("Serve's applications: status, route, the URL each is served at from this machine, deployments and replicas by state")
    .option('--json', 'print JSON');
  withCommonOptions(command).action(async (options: CommonOptions & { json?: boolean }) => {
    await withServe(options, async (serve, fleet) => {
      const status = await serve.status(interruptSignal);
      if (options.json === true) printJson(status);
      else if (status.applications.length === 0) printLine(`Serve runs no application on ${fleet.name}${status.running ? '' : ' (Serve is not started)'}`);
      else printApplications(status.applications);
    });
  });
  return command;
}

function deleteCommand(): Command {
  const command = new Command('delete').description('delete one Serve application; every other keeps running').argument('<app>', 'the application');
  withCommonOptions(command).action(async (app: string, options: CommonOptions) => {
    await withServe(options, async (serve) => {
      await serve.delete(app, interruptSignal);
      printLine(`application ${app} deleted`);
    });
  });
  return command;
}

function shutdownCommand(): Command {
  const command = new Command('shutdown').description('shut Serve down on the cluster, with every application');
  withCommonOptions(command).action(async (options: CommonOptions) => {
    await withServe(options, async (serve, fleet) => {
      const apps = await serve.shutdown(interruptSignal);
      printLine(`Serve shut down on ${fleet.name}${apps.length > 0 ? ` (${apps.join(', ')} deleted)` : ''}`);
    });
  });
  return command;
}

export function serveCommand(): Command {
  const command = new Command('serve').description('Ray Serve on a cluster: deploy applications one at a time, see them, delete them');
  for (const sub of [deployCommand(), statusCommand(), deleteCommand(), shutdownCommand()]) command.addCommand(sub);
  return command;
}
