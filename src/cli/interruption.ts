// Ctrl-C and SIGTERM for the whole CLI: the first aborts one signal that commands pass down, so they stop what they
// started and release what they hold; a second exits at once, naming what may be left.

const controller = new AbortController();
let exitCode: number | undefined;
/** What the running command would leave behind if it exited now: named on a second Ctrl-C. */
const atStake = new Set<string>();

/** Aborted on the first SIGINT or SIGTERM; every command stops on it. */
export const interruptSignal: AbortSignal = controller.signal;

/** 130 after SIGINT, 143 after SIGTERM, undefined when not interrupted. */
export function interruptExitCode(): number | undefined {
  return exitCode;
}

/** Runs `work` with `what` named as at stake should the user insist on exiting before it ends. */
export async function withStake<T>(what: string, work: () => Promise<T>): Promise<T> {
  atStake.add(what);
  try {
    return await work();
  } finally {
    atStake.delete(what);
  }
}

export function listenForInterrupts(): void {
  const interrupt = (code: number) => () => {
    if (controller.signal.aborted) {
      const left = [...atStake];
      process.stderr.write(`\nexiting at once${left.length === 0 ? '' : `; may be left: ${left.join('; ')}`}\n`);
      process.exit(exitCode ?? code);
    }
    exitCode = code;
    process.stderr.write(`\ninterrupted: cleaning up${atStake.size === 0 ? '' : ` (${[...atStake].join('; ')})`}; press Ctrl-C again to exit at once\n`);
    controller.abort();
  };
  process.on('SIGINT', interrupt(130));
  process.on('SIGTERM', interrupt(143));
}
