// job submit | status | logs | stop | list | delete: work on a cluster through Ray's Jobs API, with `ray job`'s flags.
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { RayfleetError, messageOf } from '../../errors.js';
import type { FleetJobs, SubmitJobOptions } from '../../fleet/fleet-jobs.js';
import { entrypointOf } from '../../fleet/fleet-jobs.js';
import { entrypointMarker, entrypointOutputStart, JobLogSplitter } from '../../fleet/job-log.js';
import type { Fleet } from '../../fleet/fleet.js';
import type { JobDetails } from '../../ray/jobs-client.js';
import { parseSize } from '../../spec/sizes.js';
import { formatTable } from '../format-table.js';
import { openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { interruptSignal } from '../interruption.js';
import { parseAmount, parseWholeNumber } from '../option-parsers.js';
import { printJson, printLine } from '../output.js';
import { explainUnreachable } from '../unreachable-head.js';

/** The flags of `ray job submit` that rayfleet takes, as commander parses them. */
export interface SubmitFlags {
  workingDir?: string;
  runtimeEnv?: string;
  runtimeEnvJson?: string;
  submissionId?: string;
  entrypointNumCpus?: number;
  entrypointNumGpus?: number;
  entrypointMemory?: string;
  entrypointResources?: string;
  metadataJson?: string;
  wait: boolean;
  json?: boolean;
}

interface SubmitCommandOptions extends CommonOptions, SubmitFlags {}

/** Adds `ray job submit`'s flags; `run` takes them too, all but --no-wait. */
export function addSubmitOptions(command: Command, options: { withNoWait?: boolean } = {}): Command {
  command
    .option('--working-dir <dir>', 'a local directory (zipped and uploaded; .gitignore and .rayignore honoured, .git left out) or a remote URI, the job\'s working directory')
    .option('--runtime-env <file>', 'the runtime env, a YAML or JSON file (pip, env_vars, working_dir, py_modules …)')
    .option('--runtime-env-json <json>', 'the runtime env as JSON')
    .option('--submission-id <id>', 'the job\'s id (default: Ray makes one, raysubmit_…)')
    .option('--entrypoint-num-cpus <n>', 'CPUs to reserve for the entrypoint (a cluster with the watcher scales up for them)', parseAmount)
    .option('--entrypoint-num-gpus <n>', 'GPUs to reserve for the entrypoint', parseAmount)
    .option('--entrypoint-memory <size>', 'memory to reserve for the entrypoint: bytes, or 1GiB, 512MB …')
    .option('--entrypoint-resources <json>', 'custom resources to reserve for the entrypoint, as JSON: \'{"accelerator": 1}\'')
    .option('--metadata-json <json>', 'metadata for the job, as a JSON object of strings');
  if (options.withNoWait !== false) command.addOption(new Option('--no-wait', 'return once the job is submitted: print its id, do not follow its log'));
  return command.option('--json', 'print the outcome as JSON on stdout (the job\'s log then goes to stderr)');
}

function parseJson(text: string, flag: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RayfleetError('USAGE', `${flag} is not JSON: ${messageOf(error)}`);
  }
}

function jsonObject<T>(text: string | undefined, flag: string, isValue: (value: unknown) => boolean, expected: string): Record<string, T> | undefined {
  if (text === undefined) return undefined;
  const value = parseJson(text, flag);
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every(isValue)) {
    throw new RayfleetError('USAGE', `${flag} must be a JSON object of ${expected}, not ${text}`);
  }
  return value as Record<string, T>;
}

async function runtimeEnvOf(flags: SubmitFlags): Promise<Record<string, unknown> | undefined> {
  if (flags.runtimeEnv !== undefined && flags.runtimeEnvJson !== undefined) {
    throw new RayfleetError('USAGE', 'give the runtime env once: --runtime-env FILE or --runtime-env-json JSON, not both');
  }
  if (flags.runtimeEnvJson !== undefined) return jsonObject(flags.runtimeEnvJson, '--runtime-env-json', () => true, 'fields');
  if (flags.runtimeEnv === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(flags.runtimeEnv, 'utf8');
  } catch (error) {
    throw new RayfleetError('USAGE', `cannot read --runtime-env ${flags.runtimeEnv}: ${messageOf(error)}`, { cause: error });
  }
  const value: unknown = parseYaml(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RayfleetError('USAGE', `--runtime-env ${flags.runtimeEnv} must hold a mapping of runtime env fields`);
  return value as Record<string, unknown>;
}

/** The library's submit options from the flags and the entrypoint words after `--`. */
export async function submitOptionsOf(words: string[], flags: SubmitFlags): Promise<SubmitJobOptions> {
  if (words.length === 0) throw new RayfleetError('USAGE', 'no entrypoint: give the command after --, e.g. `-- python train.py`');
  return {
    entrypoint: entrypointOf(words),
    submissionId: flags.submissionId,
    runtimeEnv: await runtimeEnvOf(flags),
    workingDir: flags.workingDir,
    metadata: jsonObject<string>(flags.metadataJson, '--metadata-json', (value) => typeof value === 'string', 'strings'),
    entrypointNumCpus: flags.entrypointNumCpus,
    entrypointNumGpus: flags.entrypointNumGpus,
    entrypointMemoryBytes: flags.entrypointMemory === undefined ? undefined : parseSize(flags.entrypointMemory),
    entrypointResources: jsonObject<number>(flags.entrypointResources, '--entrypoint-resources', (value) => typeof value === 'number', 'numbers'),
    signal: interruptSignal,
  };
}

function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** How to pick a stopped follow up again, or stop the job: said on Ctrl-C. */
function resumeHint(id: string, cluster: string): string {
  return [
    `stopped following job ${id}; it goes on running on ${cluster}.`,
    `  follow it again: rayfleet job logs ${id} --follow -c ${cluster}`,
    `  stop it:         rayfleet job stop ${id} -c ${cluster}`,
  ].join('\n');
}

/** SUCCEEDED is done; FAILED and STOPPED are JOB_FAILED (exit 1) with Ray's message and error type. */
export function outcomeOf(job: JobDetails): void {
  if (job.status === 'SUCCEEDED') return;
  const id = job.submission_id ?? job.job_id ?? '?';
  const lines = [
    job.error_type === null ? undefined : `error type: ${job.error_type}`,
    job.driver_exit_code === null ? undefined : `the entrypoint exited with code ${job.driver_exit_code}`,
  ].filter((line) => line !== undefined);
  throw new RayfleetError('JOB_FAILED', `job ${id} ${job.status}${job.message === null || job.message === '' ? '' : `: ${job.message}`}`, {
    ...(lines.length > 0 ? { details: lines.join('\n') } : {}),
  });
}

export interface FollowJobOptions {
  /** The command the job runs: Ray's log names it on the line before the entrypoint's output. */
  entrypoint: string;
  /** The whole log on stderr (--json keeps stdout for the result). */
  toStderr?: boolean;
  submittedHere?: boolean;
  /** Start this far into the log, past Ray's preamble (`--tail`). */
  fromOffset?: number;
  /** Say on Ctrl-C how to follow again; not where the job goes down with its cluster (`run`). */
  resumable?: boolean;
}

/**
 * Follows a job to its end: the entrypoint's output on stdout, Ray's preamble (runtime env setup, the command line) on
 * stderr, so stdout is exactly what the job printed. Ctrl-C stops following and says how to go on. Returns the ended job,
 * or undefined when interrupted.
 */
export async function followJob(jobs: FleetJobs, id: string, cluster: string, options: FollowJobOptions): Promise<JobDetails | undefined> {
  const out = options.toStderr === true ? process.stderr : process.stdout;
  let endsWithNewline = true;
  const splitter = new JobLogSplitter(
    entrypointMarker(id, options.entrypoint),
    {
      preamble: (text) => process.stderr.write(text),
      output: (text) => {
        out.write(text);
        endsWithNewline = text.endsWith('\n');
      },
    },
    (options.fromOffset ?? 0) > 0,
  );
  try {
    const ended = await jobs.follow(id, { write: (text) => splitter.write(text), signal: interruptSignal, submittedHere: options.submittedHere, fromOffset: options.fromOffset });
    splitter.end();
    // A log whose last line has no newline would run into what is printed next.
    if (!endsWithNewline) out.write('\n');
    return ended;
  } catch (error) {
    if (interruptSignal.aborted) {
      splitter.end();
      if (!endsWithNewline) out.write('\n');
      if (options.resumable !== false) note(resumeHint(id, cluster));
      return undefined;
    }
    throw error;
  }
}

function jobSummary(job: JobDetails): Record<string, unknown> {
  return {
    submissionId: job.submission_id,
    status: job.status,
    message: job.message,
    errorType: job.error_type,
    driverExitCode: job.driver_exit_code,
    entrypoint: job.entrypoint,
    startTime: job.start_time === null ? null : new Date(job.start_time).toISOString(),
    endTime: job.end_time === null ? null : new Date(job.end_time).toISOString(),
  };
}

/** Runs work on the fleet's jobs, with an unreachable head explained for its backend. */
async function withJobs<T>(options: CommonOptions, work: (jobs: FleetJobs, fleet: Fleet) => Promise<T>): Promise<T> {
  const fleet = await openFleet(options, {}, false);
  return withFleet(fleet, async () => {
    try {
      return await work(fleet.jobs, fleet);
    } catch (error) {
      throw explainUnreachable(fleet, error);
    }
  });
}

/**
 * Submits, then follows unless --no-wait; the shared core of `job submit` and `run` (which reads the flags into
 * `submitOptions` before it starts a cluster). Throws JOB_FAILED for a failed job.
 */
export async function submitAndFollow(jobs: FleetJobs, cluster: string, submitOptions: SubmitJobOptions, flags: SubmitFlags, options: { resumable?: boolean } = {}): Promise<void> {
  const submitted = await jobs.submit(submitOptions);
  const id = submitted.submissionId;
  for (const pkg of submitted.uploaded) note(`uploaded ${pkg.source} as ${pkg.uri} (${Math.round(pkg.bytes / 1024)} KiB)`);
  if (!flags.wait) {
    if (flags.json === true) printJson({ submissionId: id, uploaded: submitted.uploaded });
    else {
      printLine(id);
      note(`job ${id} submitted to ${cluster}. Follow it: rayfleet job logs ${id} --follow -c ${cluster}`);
    }
    return;
  }
  note(`job ${id} submitted to ${cluster}; following its log${options.resumable === false ? '' : ' (Ctrl-C stops following, not the job)'}`);
  const ended = await followJob(jobs, id, cluster, { entrypoint: submitOptions.entrypoint, toStderr: flags.json === true, submittedHere: true, resumable: options.resumable });
  if (ended === undefined) return;
  if (flags.json === true) printJson({ ...jobSummary(ended), uploaded: submitted.uploaded });
  else note(`job ${id} ${ended.status}`);
  outcomeOf(ended);
}

function submitCommand(): Command {
  const command = new Command('submit')
    .description(
      'submit a job and follow its log until it ends: exit 0 when it SUCCEEDED, 1 when it FAILED or was STOPPED (with Ray\'s message). ' +
        'The entrypoint comes after --; one argument is run as the command line it is, several are quoted as words',
    )
    .argument('<entrypoint...>', 'the command the job runs, after --: `-- python train.py --epochs 3`');
  withCommonOptions(addSubmitOptions(command)).action(async (words: string[], options: SubmitCommandOptions) => {
    await withJobs(options, async (jobs, fleet) => submitAndFollow(jobs, fleet.name, await submitOptionsOf(words, options), options));
  });
  return command;
}

function statusCommand(): Command {
  const command = new Command('status').description("a job's status, and Ray's message").argument('<id>', 'the submission id').option('--json', 'print JSON');
  withCommonOptions(command).action(async (id: string, options: CommonOptions & { json?: boolean }) => {
    await withJobs(options, async (jobs) => {
      const job = await jobs.status(id, interruptSignal);
      if (options.json === true) printJson(job);
      else printLine(describeJob(job));
    });
  });
  return command;
}

function describeJob(job: JobDetails): string {
  const lines = [`${job.submission_id ?? job.job_id ?? '?'}: ${job.status}`, `  entrypoint: ${job.entrypoint}`];
  if (job.start_time !== null) lines.push(`  started: ${new Date(job.start_time).toISOString()}`);
  if (job.end_time !== null) lines.push(`  ended: ${new Date(job.end_time).toISOString()}`);
  if (job.message !== null && job.message !== '') lines.push(`  message: ${job.message}`);
  if (job.error_type !== null) lines.push(`  error type: ${job.error_type}`);
  if (job.driver_exit_code !== null) lines.push(`  exit code: ${job.driver_exit_code}`);
  return lines.join('\n');
}

/** Where the last `lines` lines of a log start. */
export function offsetOfLastLines(text: string, lines: number): number {
  if (lines <= 0) return text.length;
  let offset = text.endsWith('\n') ? text.length - 1 : text.length;
  for (let found = 0; found < lines; found += 1) {
    offset = text.lastIndexOf('\n', offset - 1);
    if (offset < 0) return 0;
  }
  return offset + 1;
}

function logsCommand(): Command {
  const command = new Command('logs')
    .description(
      "a job's log: what the entrypoint printed on stdout, Ray's own lines before it on stderr; with --follow, printed as it grows until the job ends (every line, the last ones included)",
    )
    .argument('<id>', 'the submission id')
    .option('-f, --follow', 'keep printing until the job ends (Ctrl-C stops following, not the job)')
    .option('--tail <n>', 'start with only the last N lines', parseWholeNumber);
  withCommonOptions(command).action(async (id: string, options: CommonOptions & { follow?: boolean; tail?: number }) => {
    await withJobs(options, async (jobs, fleet) => {
      const job = await jobs.status(id, interruptSignal);
      const text = await jobs.logs(id, interruptSignal);
      const outputStart = entrypointOutputStart(text, entrypointMarker(job.submission_id ?? id, job.entrypoint));
      const output = text.slice(outputStart);
      const from = options.tail === undefined ? 0 : outputStart + offsetOfLastLines(output, options.tail);
      if (options.follow !== true) {
        if (options.tail === undefined) process.stderr.write(text.slice(0, outputStart));
        const shown = text.slice(Math.max(from, outputStart));
        process.stdout.write(shown === '' || shown.endsWith('\n') ? shown : `${shown}\n`);
        return;
      }
      const ended = await followJob(jobs, job.submission_id ?? id, fleet.name, { entrypoint: job.entrypoint, fromOffset: from });
      if (ended !== undefined) note(`job ${id} ${ended.status}${ended.message === null || ended.message === '' ? '' : `: ${ended.message}`}`);
    });
  });
  return command;
}

function stopCommand(): Command {
  const command = new Command('stop')
    .description('stop a job (Ray sends its entrypoint SIGTERM, then SIGKILL) and wait until it has stopped')
    .argument('<id>', 'the submission id')
    .addOption(new Option('--no-wait', 'return once Ray has been asked, without waiting for the job to stop'));
  withCommonOptions(command).action(async (id: string, options: CommonOptions & { wait: boolean }) => {
    await withJobs(options, async (jobs) => {
      const job = await jobs.stop(id, { wait: options.wait, signal: interruptSignal });
      printLine(`job ${id} ${job.status}`);
    });
  });
  return command;
}

function listCommand(): Command {
  const command = new Command('list').description('every job the cluster knows, submitted and driver jobs').option('--json', 'print JSON');
  withCommonOptions(command).action(async (options: CommonOptions & { json?: boolean }) => {
    await withJobs(options, async (jobs) => {
      const list = (await jobs.list(interruptSignal)).sort((a, b) => (a.start_time ?? 0) - (b.start_time ?? 0));
      if (options.json === true) {
        printJson(list);
        return;
      }
      const rows = list.map((job) => [
        job.submission_id ?? job.job_id ?? '-',
        job.type,
        job.status,
        job.start_time === null ? '-' : new Date(job.start_time).toISOString(),
        job.start_time !== null && job.end_time !== null ? `${Math.round((job.end_time - job.start_time) / 100) / 10} s` : '-',
        job.entrypoint,
      ]);
      printLine(formatTable(['ID', 'TYPE', 'STATUS', 'STARTED', 'TOOK', 'ENTRYPOINT'], rows));
    });
  });
  return command;
}

function deleteCommand(): Command {
  const command = new Command('delete').description("delete an ended job's record and log from the cluster").argument('<id>', 'the submission id');
  withCommonOptions(command).action(async (id: string, options: CommonOptions) => {
    await withJobs(options, async (jobs) => {
      await jobs.delete(id, interruptSignal);
      printLine(`job ${id} deleted`);
    });
  });
  return command;
}

export function jobCommand(): Command {
  const command = new Command('job').description("run work on a cluster through Ray's Jobs API: submit, follow, stop, list");
  for (const sub of [submitCommand(), statusCommand(), logsCommand(), stopCommand(), listCommand(), deleteCommand()]) command.addCommand(sub);
  return command;
}
