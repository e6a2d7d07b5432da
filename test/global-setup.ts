// Once before the end-to-end tests: the managed Ray runtime, built (or found in the cache) by rayfleet itself.
import { ensureRuntime } from '../src/ray/runtime.js';
import { DEFAULT_RAY_VERSION } from '../src/spec/schema.js';

export default async function setup(): Promise<void> {
  const runtime = await ensureRuntime({ rayVersion: DEFAULT_RAY_VERSION, onProgress: (line) => process.stderr.write(`[runtime] ${line}\n`) });
  process.env.RAYFLEET_TEST_PYTHON = runtime.python;
}
