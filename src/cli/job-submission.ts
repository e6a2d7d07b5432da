// Submitting a job from flags and following it to its end on the terminal: what `job submit` and `run` share.
import { Option, type Command } from 'commander';
import { RayfleetError, messageOf } from '../errors.js';
import { entrypointOf, type FleetJobs, type SubmitJobOptions } from '../fleet/fleet-jobs.js';
import { throwUnlessSucceeded } from '../fleet/job-outcome.js';
import { entrypointMarker, JobLogSplitter } from '../fleet/job-log.js';
import type { JobDetails } from '../ray/jobs-client.js';
import type { RuntimeEnv } from '../ray/runtime-env.js';
import { readRuntimeEnvFile } from '../ray/runtime-env-file.js';
import { parseSize } from '../spec/sizes.js';
import { interruptSignal } from './interruption.js';
import { parseAmount } from './option-parsers.js';
import { printJson, printLine } from './output.js';

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

async function runtimeEnvOf(flags: SubmitFlags): Promise<RuntimeEnv | undefined> {
  if (flags.runtimeEnv !== undefined && flags.runtimeEnvJson !== undefined) {
    throw new RayfleetError('USAGE', 'give the runtime env once: --runtime-env FILE or --runtime-env-json JSON, not both');
  }
  if (flags.runtimeEnvJson !== undefined) return jsonObject(flags.runtimeEnvJson, '--runtime-env-json', () => true, 'fields');
  return flags.runtimeEnv === undefined ? undefined : readRuntimeEnvFile(flags.runtimeEnv);
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

export function note(text: string): void {
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
  throwUnlessSucceeded(ended);
}
