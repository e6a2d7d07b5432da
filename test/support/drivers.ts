// The Python drivers end-to-end tests run on their clusters (files in test/fixtures/drivers), and the runtime that runs them.
import path from 'node:path';
import { execa } from 'execa';

/** The managed runtime's Python, which test/global-setup.ts found or built. */
export const TEST_PYTHON = process.env.RAYFLEET_TEST_PYTHON ?? 'python3';
/** The `ray` CLI beside it. */
export const TEST_RAY = path.join(path.dirname(TEST_PYTHON), 'ray');

/** The absolute path of a driver, e.g. `driverFile('one-cpu-tasks.py')`. */
export function driverFile(name: string): string {
  return path.resolve(import.meta.dirname, '../fixtures/drivers', name);
}

/** Runs a driver with the runtime's Python in the environment given (`rayfleet env`'s); it is not failed on a non-zero exit. */
export function startDriver(name: string, args: string[], options: { env: Record<string, string>; timeoutMs?: number }) {
  return execa(TEST_PYTHON, [driverFile(name), ...args], { env: options.env, reject: false, encoding: 'utf8', ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }) });
}
