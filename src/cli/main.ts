// The rayfleet command line: flags in, library calls, results out; errors become their documented exit codes.
import { Command, CommanderError } from 'commander';
import { ExitCode, RayfleetError, exitCodeOf, messageOf } from '../errors.js';
import { interruptExitCode, listenForInterrupts } from './interruption.js';
import { caiCommand } from './commands/cai-commands.js';
import { dashboardCommand } from './commands/dashboard-command.js';
import { downCommand, restartCommand, upCommand } from './commands/cluster-commands.js';
import { envCommand } from './commands/env-command.js';
import { eventsCommand } from './commands/events-command.js';
import { jobCommand } from './commands/job-commands.js';
import { logsCommand, logsRayCommand } from './commands/logs-command.js';
import { runCommand } from './commands/run-command.js';
import { runtimeCommand } from './commands/runtime-command.js';
import { serveCommand } from './commands/serve-commands.js';
import { simulateCommand } from './commands/simulate-command.js';
import { specCommand } from './commands/spec-command.js';
import { statusCommand } from './commands/status-command.js';
import { addWorkerCommand, removeWorkerCommand } from './commands/worker-commands.js';
import { oldWatcherCommands, watchCommand, watcherCommand } from './commands/watcher-commands.js';
import { readEnv } from '../environment.js';
import { packageVersion } from '../package-files.js';

export function buildProgram(): Command {
  const program = new Command('rayfleet')
    .description('Launch, watch and scale Ray clusters: on this machine, in Docker, or on Cloudera AI.')
    .version(packageVersion())
    .showSuggestionAfterError()
    .exitOverride();
  for (const command of [
    upCommand(),
    downCommand(),
    restartCommand(),
    statusCommand(),
    envCommand(),
    addWorkerCommand(),
    removeWorkerCommand(),
    logsCommand(),
    logsRayCommand(),
    eventsCommand(),
    runtimeCommand(),
    specCommand(),
    watchCommand(),
    watcherCommand(),
    ...oldWatcherCommands(),
    caiCommand(),
    dashboardCommand(),
    jobCommand(),
    runCommand(),
    serveCommand(),
    simulateCommand(),
  ]) {
    program.addCommand(command);
  }
  applyToAll(program, (command) => command.exitOverride());
  return program;
}

function applyToAll(command: Command, apply: (command: Command) => void): void {
  apply(command);
  for (const child of command.commands) applyToAll(child, apply);
}

export { listenForInterrupts };

/**
 * Runs the CLI and returns the exit code; only the bin script exits. The bin script listens for Ctrl-C (interruption.ts)
 * before it calls this, so a test that runs the CLI in its own process keeps its signals.
 */
export async function runCli(argv: string[]): Promise<number> {
  return buildProgram()
    .parseAsync(argv)
    .then(
      () => interruptExitCode() ?? ExitCode.ok,
      (error: unknown) => interruptExitCode() ?? reportError(error),
    );
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version end with "errors" of their own that are not failures.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok;
    return ExitCode.usage;
  }
  if (error instanceof RayfleetError) {
    process.stderr.write(`error [${error.code}]: ${error.message}\n`);
    if (error.details !== undefined) process.stderr.write(`${error.details}\n`);
  } else {
    process.stderr.write(`error: ${messageOf(error)}\n`);
    if (readEnv('RAYFLEET_DEBUG') !== undefined && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
  }
  return exitCodeOf(error);
}
