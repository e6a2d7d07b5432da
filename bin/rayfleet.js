#!/usr/bin/env node
// The installed entry point: runs the compiled CLI and exits with its code (an interrupt must not wait for open handles).
import { listenForInterrupts, runCli } from '../dist/cli/main.js';

listenForInterrupts();
process.exit(await runCli(process.argv));
