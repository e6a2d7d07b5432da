#!/usr/bin/env node
// The installed entry point: runs the compiled CLI.
import { runCli } from '../dist/cli/main.js';

process.exitCode = await runCli(process.argv);
