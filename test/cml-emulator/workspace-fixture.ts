// For tests: an emulator with one runtime project, and clients of it with fast retries.
import { CmlClient, type CmlClientOptions } from '../../src/providers/cai/cml/cml-client.js';
import { RUNTIMES } from './runtimes.js';
import { startCmlEmulator, type CmlEmulator, type CmlEmulatorOptions } from './start-cml-emulator.js';

/** Long enough to be masked as `cml-…ef`, distinctive enough to search a file for. */
export const TEST_API_KEY = 'cml-test-key-4f1d9c0b7a2e55ef';
export const PYTHON_RUNTIME = RUNTIMES[0]?.image_identifier ?? '';

export interface EmulatedWorkspace {
  emulator: CmlEmulator;
  projectId: string;
  /** A client of the emulator with millisecond back-off; options override. */
  client(options?: Partial<CmlClientOptions>): CmlClient;
  close(): Promise<void>;
}

export async function emulatedWorkspace(options: Partial<CmlEmulatorOptions> = {}): Promise<EmulatedWorkspace> {
  const emulator = await startCmlEmulator({ apiKey: TEST_API_KEY, stopGraceMs: 250, ...options });
  const client = (overrides: Partial<CmlClientOptions> = {}): CmlClient =>
    new CmlClient({ host: emulator.url, apiKey: TEST_API_KEY, baseDelayMs: 5, maxDelayMs: 20, timeoutMs: 5_000, traceFile: '', ...overrides });
  const project = await client().createProject({ name: `project-${Date.now()}` });
  return { emulator, projectId: project.id, client, close: () => emulator.close() };
}
