// cai setup | runtimes: what a Cloudera AI project needs before `rayfleet up` runs clusters there.
import { Command } from 'commander';
import { RayfleetError } from '../../errors.js';
import { caiSettingsOf, type CaiProviderSettings } from '../../providers/cai/cai-backend.js';
import { caiSetup } from '../../providers/cai/cai-setup.js';
import type { CmlClient } from '../../providers/cai/cml/cml-client.js';
import { connectToCml } from '../../providers/cai/cml/cml-connection.js';
import type { ClusterSpec } from '../../spec/schema.js';
import { Fleet } from '../../fleet/fleet.js';
import { createLogger } from '../../log/logger.js';
import { resolveSpec, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { parseAmount, parseWholeNumber } from '../option-parsers.js';
import { printStatus } from './status-command.js';
import { interruptSignal } from '../interruption.js';
import { formatTable } from '../format-table.js';
import { printJson, printLine, progressReporter } from '../output.js';

interface SetupOptions extends CommonOptions {
  projectId?: string;
  projectName?: string;
  gitUrl?: string;
  runtime?: string;
  venv?: string;
  json?: boolean;
}

interface RuntimesOptions extends CommonOptions {
  search?: string;
  json?: boolean;
}

/** The client and project of the spec's cai provider (or of the environment alone, for a spec of another type). */
function cmlFor(spec: ClusterSpec): { client: CmlClient; projectId: string | undefined; provider: CaiProviderSettings | undefined } {
  const provider = caiSettingsOf(spec.provider);
  return { ...connectToCml(process.env, provider), provider };
}

function setupCommand(): Command {
  const command = new Command('setup')
    .description("prepare a CML project: upload rayfleet's launchers, then run the job that builds the venv with Ray and Node; waits for it to end")
    .option('--project-id <id>', 'an existing project (default: provider.projectId, CML_PROJECT_ID)')
    .option('--project-name <name>', 'find the project by name, or create it')
    .option('--git-url <url>', 'create the project from this repository')
    .option('--runtime <identifier>', 'the runtime of the job (default: provider.runtimeIdentifier; see `rayfleet cai runtimes`)')
    .option('--venv <path>', 'where the venv is built (default: provider.venv, else /home/cdsw/.venv)')
    .option('--json', 'print JSON');
  withCommonOptions(command).action(async (options: SetupOptions) => {
    const spec = await resolveSpec(options);
    const { client, projectId, provider } = cmlFor(spec);
    const runtimeIdentifier = options.runtime ?? provider?.runtimeIdentifier;
    if (runtimeIdentifier === undefined) {
      throw new RayfleetError('USAGE', 'a CML runtime is required: --runtime IDENTIFIER, or provider.runtimeIdentifier in rayfleet.yaml', {
        details: 'List them with `rayfleet cai runtimes --search python3.11` and take an image_identifier.',
      });
    }
    const progress = progressReporter(options.json !== true);
    progress?.(`CML ${client.host}, key ${client.maskedKey}`);
    const result = await caiSetup({
      client,
      projectId: options.projectId ?? (options.projectName === undefined ? projectId : undefined),
      projectName: options.projectName,
      gitUrl: options.gitUrl,
      runtimeIdentifier,
      rayVersion: spec.ray.version,
      venv: options.venv ?? provider?.venv,
      signal: interruptSignal,
      onProgress: progress,
    });
    if (options.json === true) printJson(result);
    else {
      printLine(`setup done: job run ${result.runId} ${result.status}`);
      printLine(`project id: ${result.projectId}  (provider.projectId in rayfleet.yaml, or CML_PROJECT_ID)`);
    }
  });
  return command;
}

function runtimesCommand(): Command {
  const command = new Command('runtimes')
    .description('the runtimes of the workspace: their image_identifier is what provider.runtimeIdentifier takes')
    .option('--search <text>', 'only runtimes whose identifier, kernel, edition or editor contain this text')
    .option('--json', 'print JSON');
  withCommonOptions(command).action(async (options: RuntimesOptions) => {
    const { client } = cmlFor(await resolveSpec(options));
    const needle = options.search?.toLowerCase();
    const runtimes = (await client.listRuntimes({}, interruptSignal)).filter(
      (runtime) => needle === undefined || [runtime.image_identifier, runtime.kernel, runtime.edition, runtime.editor].some((field) => field?.toLowerCase().includes(needle)),
    );
    if (options.json === true) printJson(runtimes);
    else printLine(formatTable(['IMAGE IDENTIFIER', 'KERNEL', 'EDITION', 'EDITOR'], runtimes.map((runtime) => [runtime.image_identifier ?? '', runtime.kernel ?? '', runtime.edition ?? '', runtime.editor ?? ''])));
  });
  return command;
}

interface TestOptions extends CommonOptions {
  workers: number;
  cpu: number;
  memory: number;
  gpu: number;
  cleanup: boolean;
  wait: boolean;
  json?: boolean;
}

const GIB = 2 ** 30;

/** The old test_cai_deployment.py in one command: connect, make a cluster, see its workers join, clean up. */
function testCommand(): Command {
  const command = new Command('test')
    .description('check a CML workspace end to end: connect, create a cluster (head + workers), check the workers join Ray, clean up')
    .option('--workers <n>', 'workers to start', parseWholeNumber, 1)
    .option('--cpu <n>', 'CPUs of each worker', parseAmount, 4)
    .option('--memory <gb>', 'memory of each worker application, GB', parseAmount, 16)
    .option('--gpu <n>', 'GPUs of each worker', parseWholeNumber, 1)
    .option('--no-cleanup', 'leave the cluster running, to inspect it (`rayfleet down -c NAME` removes it)')
    .option('--no-wait', 'do not wait for the workers to join Ray (creating the applications is the test)')
    .option('--json', 'print the cluster status as JSON');
  withCommonOptions(command).action(async (options: TestOptions) => {
    const spec = await resolveSpec(options);
    if (caiSettingsOf(spec.provider) === undefined) {
      throw new RayfleetError('USAGE', `cai test needs a cai cluster; the spec's provider is ${spec.provider.type}`, { details: 'Set provider: { type: cai, runtimeIdentifier: … } in rayfleet.yaml, or pass --provider cai.' });
    }
    const { client, projectId } = cmlFor(spec);
    const progress = progressReporter(options.json !== true) ?? (() => undefined);
    // Connecting is the first check: the workspace answers, the key is accepted (shown masked), the project exists.
    const connected = [`CML ${client.host}, key ${client.maskedKey}`];
    if (projectId !== undefined) connected.push(`project ${(await client.getProject(projectId, interruptSignal)).name ?? projectId} (${projectId})`);
    if (options.json !== true) for (const line of connected) printLine(line);
    const objectStore = Math.min(GIB, Math.max(100 * 10 ** 6, (options.memory * GIB) / 4));
    const group = { ...(spec.workerGroups[0] ?? { name: 'worker', resources: {} }), name: 'worker', min: options.workers, max: options.workers };
    const testSpec = {
      ...spec,
      workerGroups: [{ ...group, cpus: options.cpu, gpus: options.gpu, objectStoreMemoryBytes: objectStore, memoryBytes: Math.max(GIB, options.memory * GIB - objectStore) }],
      watcher: { ...spec.watcher, enabled: false },
    };
    const fleet = await Fleet.open({ spec: testSpec, logger: createLogger(), onProgress: progress });
    await withFleet(fleet, async () => {
      let failure: unknown;
      try {
        const status = await fleet.up(interruptSignal, { waitForWorkers: options.wait });
        if (options.json === true) printJson(status);
        else {
          printStatus(status);
          printLine(options.wait ? `test passed: ${options.workers} worker(s) joined Ray` : `test passed: ${options.workers} worker application(s) created (not waited for)`);
        }
      } catch (error) {
        failure = error;
      }
      // A failed `up` takes down what it started itself; whatever is left goes now, and the first failure is the one reported.
      if (options.cleanup && (await fleet.exists())) {
        progress(`cleaning up ${fleet.name}`);
        try {
          await fleet.down();
        } catch (error) {
          failure ??= error;
        }
      } else if (!options.cleanup) progress(`left running: \`rayfleet down -c ${fleet.name}\` removes it`);
      if (failure !== undefined) throw failure;
    });
  });
  return command;
}

export function caiCommand(): Command {
  return new Command('cai')
    .description('Cloudera AI: prepare a project, list runtimes, test a workspace end to end')
    .addCommand(setupCommand())
    .addCommand(runtimesCommand())
    .addCommand(testCommand());
}
