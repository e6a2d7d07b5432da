// job submit | status | logs | stop | list | delete: work on a cluster through Ray's Jobs API, with `ray job`'s flags.
import { Command, Option } from 'commander';
import type { FleetJobs } from '../../fleet/fleet-jobs.js';
import { entrypointMarker, entrypointOutputStart } from '../../fleet/job-log.js';
import type { Fleet } from '../../fleet/fleet.js';
import type { JobDetails } from '../../ray/jobs-client.js';
import { formatTable } from '../format-table.js';
import { openFleet, withCommonOptions, withFleet, type CommonOptions } from '../context.js';
import { interruptSignal } from '../interruption.js';
import { addSubmitOptions, followJob, note, submitAndFollow, submitOptionsOf, type SubmitFlags } from '../job-submission.js';
import { parseWholeNumber } from '../option-parsers.js';
import { printJson, printLine } from '../output.js';
import { explainUnreachable } from '../unreachable-head.js';

interface SubmitCommandOptions extends CommonOptions, SubmitFlags {}

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
