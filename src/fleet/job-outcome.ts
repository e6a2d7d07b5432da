// How an ended job ends for its caller: the one rule `job submit` and `run` share, which status is a failure and why.
import { RayfleetError } from '../errors.js';
import type { JobDetails } from '../ray/jobs-client.js';

/** SUCCEEDED is done; FAILED and STOPPED are JOB_FAILED (exit 1) with Ray's message, error type and the entrypoint's exit code. */
export function throwUnlessSucceeded(job: JobDetails): void {
  if (job.status === 'SUCCEEDED') return;
  const id = job.submission_id ?? job.job_id ?? '?';
  const lines = [
    job.error_type === null ? undefined : `error type: ${job.error_type}`,
    job.driver_exit_code === null ? undefined : `the entrypoint exited with code ${job.driver_exit_code}`,
  ].filter((line) => line !== undefined);
  throw new RayfleetError('JOB_FAILED', `job ${id} ${job.status}${job.message === null || job.message === '' ? '' : `: ${job.message}`}`, {
    ...(lines.length > 0 ? { details: lines.join('\n') } : {}),
  });
}
