// Ctrl-C and SIGTERM for the whole CLI: one signal that commands pass down, so they stop cleanly and release what they hold.

const controller = new AbortController();
let exitCode: number | undefined;

/** Aborted on the first SIGINT or SIGTERM; long-running commands (watch, logs --follow, up) stop on it. */
export const interruptSignal: AbortSignal = controller.signal;

/** 130 after SIGINT, 143 after SIGTERM, undefined when not interrupted. */
export function interruptExitCode(): number | undefined {
  return exitCode;
}

export function listenForInterrupts(): void {
  const interrupt = (code: number) => () => {
    exitCode ??= code;
    controller.abort();
  };
  process.once('SIGINT', interrupt(130));
  process.once('SIGTERM', interrupt(143));
}
