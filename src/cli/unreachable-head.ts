// A head this machine cannot reach, explained for its backend, for the job and serve commands.
import { RayfleetError, isRayfleetError } from '../errors.js';
import type { Fleet } from '../fleet/fleet.js';

/**
 * A Cloudera AI head is reached at its pod address, which only machines inside CML's network can reach: the error
 * says where to run the command instead.
 */
export function explainUnreachable(fleet: Fleet, error: unknown): unknown {
  if (!isRayfleetError(error, 'RAY_UNREACHABLE') || fleet.spec.provider.type !== 'cai' || error.details !== undefined) return error;
  return new RayfleetError('RAY_UNREACHABLE', error.message, {
    cause: error,
    details:
      "Jobs and Serve talk to the head's dashboard at its pod address, inside CML's network: run this command in a session, job or application of the project.",
  });
}
