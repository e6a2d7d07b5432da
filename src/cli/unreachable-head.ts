// A head this machine cannot reach, explained for its backend, for the job and serve commands.
import { RayfleetError, isRayfleetError } from '../errors.js';
import type { Fleet } from '../fleet/fleet.js';

/** A head only some machines reach (a CML pod's address): the error says where to run the command instead, as the backend advises. */
export function explainUnreachable(fleet: Fleet, error: unknown): unknown {
  const advice = fleet.unreachableHeadAdvice;
  if (!isRayfleetError(error, 'RAY_UNREACHABLE') || advice === undefined || error.details !== undefined) return error;
  return new RayfleetError('RAY_UNREACHABLE', error.message, { cause: error, details: advice });
}
