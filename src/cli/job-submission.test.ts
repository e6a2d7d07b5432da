import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rayfleetErrorOf } from '../../test/support/caught.js';
import { submitOptionsOf } from './job-submission.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-job-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('submitOptionsOf', () => {
  it("reads `ray job submit`'s flags: sizes, JSON objects, a runtime env file in YAML", async () => {
    const file = path.join(dir, 'env.yaml');
    await writeFile(file, 'env_vars:\n  MODE: fast\npip: [requests]\n');
    const options = await submitOptionsOf(['python', 'train.py', '--lr', '0.1'], {
      wait: true,
      runtimeEnv: file,
      entrypointMemory: '1GiB',
      entrypointResources: '{"accelerator": 2}',
      metadataJson: '{"owner": "me"}',
      entrypointNumGpus: 1,
    });
    expect(options).toMatchObject({
      entrypoint: 'python train.py --lr 0.1',
      runtimeEnv: { env_vars: { MODE: 'fast' }, pip: ['requests'] },
      entrypointMemoryBytes: 2 ** 30,
      entrypointResources: { accelerator: 2 },
      metadata: { owner: 'me' },
      entrypointNumGpus: 1,
    });
  });

  it('refuses what Ray would refuse later, as usage errors', async () => {
    expect((await rayfleetErrorOf(() => submitOptionsOf([], { wait: true }))).message).toMatch(/no entrypoint/);
    expect((await rayfleetErrorOf(() => submitOptionsOf(['x'], { wait: true, runtimeEnv: 'a.yaml', runtimeEnvJson: '{}' }))).message).toMatch(/not both/);
    expect((await rayfleetErrorOf(() => submitOptionsOf(['x'], { wait: true, runtimeEnvJson: '{pip' }))).message).toMatch(/--runtime-env-json is not JSON/);
    expect((await rayfleetErrorOf(() => submitOptionsOf(['x'], { wait: true, metadataJson: '{"n": 1}' }))).message).toMatch(/JSON object of strings/);
    expect((await rayfleetErrorOf(() => submitOptionsOf(['x'], { wait: true, entrypointResources: '[1]' }))).code).toBe('USAGE');
  });
});
