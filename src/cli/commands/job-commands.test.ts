import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rayfleetErrorOf, thrownBy } from '../../../test/support/caught.js';
import type { JobDetails } from '../../ray/jobs-client.js';
import { offsetOfLastLines, outcomeOf, submitOptionsOf } from './job-commands.js';

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

describe('outcomeOf', () => {
  const job = (status: JobDetails['status'], extra: Partial<JobDetails> = {}): JobDetails => ({
    type: 'SUBMISSION',
    job_id: null,
    submission_id: 'raysubmit_1',
    status,
    entrypoint: 'python x.py',
    message: null,
    error_type: null,
    start_time: null,
    end_time: null,
    metadata: null,
    runtime_env: null,
    driver_exit_code: null,
    ...extra,
  });

  it("is nothing for SUCCEEDED, and JOB_FAILED (exit 1) with Ray's message, error type and exit code otherwise", () => {
    expect(outcomeOf(job('SUCCEEDED'))).toBeUndefined();
    const failed = thrownBy(() => outcomeOf(job('FAILED', { message: 'Job entrypoint command failed with exit code 3', error_type: 'JOB_ENTRYPOINT_COMMAND_ERROR', driver_exit_code: 3 })));
    expect(failed).toMatchObject({ code: 'JOB_FAILED', exitCode: 1, message: 'job raysubmit_1 FAILED: Job entrypoint command failed with exit code 3' });
    expect((failed as { details: string }).details).toBe('error type: JOB_ENTRYPOINT_COMMAND_ERROR\nthe entrypoint exited with code 3');
    expect(thrownBy(() => outcomeOf(job('STOPPED')))).toMatchObject({ code: 'JOB_FAILED', message: 'job raysubmit_1 STOPPED' });
  });
});

describe('offsetOfLastLines', () => {
  it('finds where the last N lines start, with or without a final newline', () => {
    expect('a\nb\nc\n'.slice(offsetOfLastLines('a\nb\nc\n', 2))).toBe('b\nc\n');
    expect('a\nb\nc'.slice(offsetOfLastLines('a\nb\nc', 2))).toBe('b\nc');
    expect('a\nb\n'.slice(offsetOfLastLines('a\nb\n', 5))).toBe('a\nb\n');
    expect('a\nb\n'.slice(offsetOfLastLines('a\nb\n', 0))).toBe('');
    expect(offsetOfLastLines('', 3)).toBe(0);
  });
});
