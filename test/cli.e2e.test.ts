// The built CLI on its own: help on every command, usage errors, the runtime and spec commands.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/main.js';
import { createSandbox, type Sandbox } from './support/run-cli.js';

/** Every command and alias the program has, subcommands as `parent child`: a new command is covered without editing this. */
function commandNames(command: Command, prefix: string[] = []): string[] {
  return command.commands.flatMap((child) => {
    const names = [child.name(), ...child.aliases()].map((name) => [...prefix, name].join(' '));
    return [...names, ...commandNames(child, [...prefix, child.name()])];
  });
}

const COMMANDS = commandNames(buildProgram());
/** The old toolkit's names and the backends' commands, which must never drop out of the program. */
const REQUIRED = ['start-ray', 'stop-ray', 'restart-ray', 'status-ray', 'logs-ray', 'add-worker', 'start-watcher', 'stop-watcher', 'watcher-status', 'cai setup', 'cai runtimes', 'cai test'];

describe('the rayfleet CLI', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await createSandbox();
  });

  it('has every command the old toolkit had, and the cai ones', () => {
    expect(COMMANDS).toEqual(expect.arrayContaining(REQUIRED));
  });

  // Side-effect free, so several at once: one process each, mostly Node starting.
  it.concurrent.for(COMMANDS)('has --help for %s', async (command, { expect }) => {
    const result = await sandbox.run([...command.split(' '), '--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^Usage: rayfleet /);
  });

  it('exits 2 on an unknown command or option, with a suggestion', async () => {
    const unknown = await sandbox.run(['stauts']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/Did you mean status\?/);
    const badOption = await sandbox.run(['add-worker', '--count', 'zero']);
    expect(badOption.exitCode).toBe(2);
  });

  it("prints rayfleet's version from the bundle, not that of the npm project it runs in", async () => {
    const { version } = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string };
    const result = await sandbox.run(['--version'], { env: { npm_package_version: '9.9.9' } });
    expect(result.stdout).toBe(version);
  });

  it('describes the managed runtime as JSON', async () => {
    const info = await sandbox.json<{ python: string; ray: string; rayVersion: string; pythonVersion: string }>(['runtime', 'info']);
    expect(info.rayVersion).toBe('2.60.0');
    expect(info.pythonVersion).toMatch(/^3\.\d+\.\d+$/);
    expect(path.basename(info.ray)).toBe('ray');
    expect(path.isAbsolute(info.python)).toBe(true);
  });

  it('prints the JSON Schema and the resolved spec with flags > env > file', async () => {
    const schema = JSON.parse((await sandbox.run(['spec', 'schema'])).stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toContain('workerGroups');
    await writeFile(path.join(sandbox.dir, 'rayfleet.yaml'), 'name: fromfile\nwatcher: { maxWorkers: 3 }\n');
    const shown = await sandbox.run(['spec', 'show', '-c', 'fromflag'], { env: { WATCHER_MAX_WORKERS: '4', RAYFLEET_CLUSTER: 'fromenv' } });
    expect(shown.exitCode, shown.stderr).toBe(0);
    const spec = JSON.parse(shown.stdout) as { name: string; watcher: { maxWorkers: number } };
    expect(spec.name).toBe('fromflag');
    expect(spec.watcher.maxWorkers).toBe(4);
  });

  it('prints a spec error with its code, position and exit 2', async () => {
    await writeFile(path.join(sandbox.dir, 'rayfleet.yaml'), 'name: ok\nhead:\n  cpus: -1\n');
    const result = await sandbox.run(['spec', 'show']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^error \[SPEC_INVALID\]: the spec rayfleet\.yaml is invalid:\n {2}rayfleet\.yaml:3:9 head\.cpus: Too small/m);
  });
});
