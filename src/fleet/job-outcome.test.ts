import { describe, expect, it } from 'vitest';
import { thrownBy } from '../../test/support/caught.js';
import type { JobDetails } from '../ray/jobs-client.js';
import { throwUnlessSucceeded } from './job-outcome.js';

describe('throwUnlessSucceeded', () => {
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
    expect(throwUnlessSucceeded(job('SUCCEEDED'))).toBeUndefined();
    const failed = thrownBy(() => throwUnlessSucceeded(job('FAILED', { message: 'Job entrypoint command failed with exit code 3', error_type: 'JOB_ENTRYPOINT_COMMAND_ERROR', driver_exit_code: 3 })));
    expect(failed).toMatchObject({ code: 'JOB_FAILED', exitCode: 1, message: 'job raysubmit_1 FAILED: Job entrypoint command failed with exit code 3' });
    expect((failed as { details: string }).details).toBe('error type: JOB_ENTRYPOINT_COMMAND_ERROR\nthe entrypoint exited with code 3');
    expect(thrownBy(() => throwUnlessSucceeded(job('STOPPED')))).toMatchObject({ code: 'JOB_FAILED', message: 'job raysubmit_1 STOPPED' });
  });
});
