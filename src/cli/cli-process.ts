// rayfleet as a process: listens for Ctrl-C, runs the command line and exits with its code (an interrupt must not wait
// for open handles). The single-file build (scripts/bundle.mjs) starts here, and bin/rayfleet.js runs that build.
import { listenForInterrupts, runCli } from './main.js';

listenForInterrupts();
process.exit(await runCli(process.argv));
