// The jobs and Serve of an opened fleet, for the CLI's job, serve and run commands.
import { RayfleetError, isRayfleetError } from '../errors.js';
import { FleetJobs } from '../fleet/fleet-jobs.js';
import { FleetServe } from '../fleet/fleet-serve.js';
import type { Fleet } from '../fleet/fleet.js';
import type { ServeContext } from '../fleet/work-context.js';
import { Journal } from '../journal/journal.js';
import { createLogger } from '../log/logger.js';

/** What jobs and Serve need of the fleet: its head's endpoints, its token, its journal. */
export function workContextOf(fleet: Fleet): ServeContext {
  const journal = new Journal(fleet.paths.journal, fleet.name);
  const logger = createLogger();
  return {
    cluster: fleet.name,
    providerType: fleet.spec.provider.type,
    dashboardUrl: async (signal) => (await fleet.endpoints(signal)).dashboardUrl,
    serveUrl: async (signal) => (await fleet.endpoints(signal)).serveUrl,
    servePort: async (signal) => (await fleet.endpoints(signal)).ports.servePort,
    authToken: () => fleet.authToken(),
    record: async (event) => {
      try {
        await journal.append(event);
      } catch (error) {
        // The journal records what happened; failing to write it must not undo what happened.
        logger.error({ err: error, event }, 'cannot write to the journal');
      }
    },
  };
}

export function jobsOf(fleet: Fleet): FleetJobs {
  return new FleetJobs(workContextOf(fleet));
}

export function serveOf(fleet: Fleet): FleetServe {
  return new FleetServe(workContextOf(fleet));
}

/**
 * A head this machine cannot reach, explained for the backend: a Cloudera AI head is reached at its pod address, which only
 * machines inside CML's network can reach.
 */
export function explainUnreachable(fleet: Fleet, error: unknown): unknown {
  if (!isRayfleetError(error, 'RAY_UNREACHABLE') || fleet.spec.provider.type !== 'cai' || error.details !== undefined) return error;
  return new RayfleetError('RAY_UNREACHABLE', error.message, {
    cause: error,
    details:
      "Jobs and Serve talk to the head's dashboard at its pod address, inside CML's network: run this command in a session, job or application of the project.",
  });
}
