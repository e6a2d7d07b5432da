// run: an ephemeral cluster for one job (KubeRay's RayJob with shutdownAfterJobFinishes): up, submit, follow, down.
import { Command } from 'commander';
import { RayfleetError, messageOf } from '../../errors.js';
import { openFleet, withCommonOptions, withFleet } from '../context.js';
import { interruptSignal } from '../interruption.js';
import { addSubmitOptions, note, submitAndFollow, submitOptionsOf, type SubmitFlags } from '../job-submission.js';
import { explainUnreachable } from '../unreachable-head.js';
import { overridesOf, upCommand, type UpOptions } from './cluster-commands.js';

interface RunOptions extends Omit<UpOptions, 'json'>, Omit<SubmitFlags, 'wait'> {
  keep?: boolean;
}

/** `up`'s own flags (one definition, one help text), without those `run` has its own of. */
const UP_FLAGS_NOT_TAKEN = new Set(['--json', '--cluster', '--config']);

export function runCommand(): Command {
  const command = new Command('run')
    .description(
      'run one job on a cluster of its own: up (watcher on), submit, follow the log, then down, also when the job fails or on Ctrl-C ' +
        "(unless --keep). Exit 0 when the job SUCCEEDED, 1 when it FAILED or was STOPPED, rayfleet's own codes (2-5) when rayfleet failed",
    )
    .argument('<entrypoint...>', 'the command the job runs, after --: `-- python train.py`')
    .option('--keep', 'leave the cluster up after the job (`rayfleet down` stops it)');
  for (const option of upCommand().options) if (!UP_FLAGS_NOT_TAKEN.has(option.long ?? '')) command.addOption(option);
  addSubmitOptions(command, { withNoWait: false });
  withCommonOptions(command).action(async (words: string[], options: RunOptions) => {
    // Every error of the request itself (a bad flag, an unreadable runtime env) comes before a cluster is started for it.
    const flags: SubmitFlags = { ...options, wait: true };
    const submitOptions = await submitOptionsOf(words, flags);
    const fleet = await openFleet(options, overridesOf(options));
    await withFleet(fleet, async () => {
      if (await fleet.exists()) {
        throw new RayfleetError('CLUSTER_EXISTS', `cluster ${fleet.name} is up already, and \`run\` takes its cluster down afterwards`, {
          details: `Run the job on it with \`rayfleet job submit -c ${fleet.name} -- …\`, or give \`run\` a cluster of its own with -c NAME.`,
        });
      }
      let failure: unknown;
      try {
        note(`starting cluster ${fleet.name} for the job`);
        await fleet.up(interruptSignal);
        await submitAndFollow(fleet.jobs, fleet.name, submitOptions, flags, { resumable: options.keep === true });
      } catch (error) {
        failure = explainUnreachable(fleet, error);
      }
      await cleanUp(fleet, options.keep === true, failure);
      if (failure !== undefined) throw failure;
    });
  });
  return command;
}

/** Down unless --keep; a failed down is reported beside the job's own failure, and is the failure when the job succeeded. */
async function cleanUp(fleet: Awaited<ReturnType<typeof openFleet>>, keep: boolean, failure: unknown): Promise<void> {
  if (!(await fleet.exists())) return;
  if (keep) {
    note(`cluster ${fleet.name} kept; stop it with \`rayfleet down -c ${fleet.name}\``);
    return;
  }
  note(interruptSignal.aborted ? `interrupted: stopping cluster ${fleet.name}, and the job with it` : `stopping cluster ${fleet.name}`);
  try {
    await fleet.down();
    note(`cluster ${fleet.name} is down`);
  } catch (error) {
    if (failure === undefined) throw error;
    note(`and stopping cluster ${fleet.name} failed too: ${messageOf(error)}`);
  }
}
