// What every command shares: the cluster and config options, loading the spec, and opening the fleet.
import type { Command } from 'commander';
import { Fleet } from '../fleet/fleet.js';
import { createLogger } from '../log/logger.js';
import { loadSpec, type LoadedSpec } from '../spec/load-spec.js';
import type { SpecOverrides } from '../spec/overrides.js';
import type { ClusterSpec } from '../spec/schema.js';
import { progressReporter } from './output.js';

export interface CommonOptions {
  cluster?: string | undefined;
  config?: string | undefined;
}

/** Adds `-c, --cluster` and `--config` to a command, so each command's --help shows them. */
export function withCommonOptions(command: Command): Command {
  command.option('-c, --cluster <name>', 'the cluster (default: the spec\'s name, else "ray")');
  command.option('--config <file>', 'the spec file (default: rayfleet.yaml found from the working directory up)');
  return command;
}

export async function resolveSpec(options: CommonOptions, overrides: SpecOverrides = {}): Promise<ClusterSpec> {
  return (await loadCommandSpec(options, overrides)).spec;
}

/** The spec with where its env and flag values came from. */
export async function loadCommandSpec(options: CommonOptions, overrides: SpecOverrides = {}): Promise<LoadedSpec> {
  return loadSpec({
    cwd: process.cwd(),
    configPath: options.config,
    env: process.env,
    overrides: { ...overrides, ...(options.cluster === undefined ? {} : { cluster: options.cluster }) },
  });
}

export async function openFleet(options: CommonOptions, overrides: SpecOverrides = {}, showProgress = true): Promise<Fleet> {
  return Fleet.open({
    spec: await resolveSpec(options, overrides),
    logger: createLogger(),
    onProgress: progressReporter(showProgress),
  });
}

/** Runs `work` with the fleet open and closes its connections after, so the process can exit. */
export async function withFleet<T>(fleet: Fleet, work: (fleet: Fleet) => Promise<T>): Promise<T> {
  try {
    return await work(fleet);
  } finally {
    fleet.close();
  }
}
