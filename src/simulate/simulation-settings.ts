// The simulated machines' defaults: each backend's own launch and stop latency (Backend.simulation), as measured or assumed there.
import type { BackendSimulation } from '../providers/backend.js';
import { backendOf, everyBackend } from '../providers/backend-of.js';
import type { ProviderSpec } from '../spec/schema.js';

/** What the simulator assumes of a spec's machines where its `simulation:` section says nothing. */
export function simulationDefaults(provider: ProviderSpec): BackendSimulation {
  return backendOf(provider).simulation;
}

/** Every backend's defaults, for `rayfleet simulate --help`. */
export function simulationDefaultsByBackend(): { type: ProviderSpec['type']; defaults: BackendSimulation }[] {
  return everyBackend().map(({ type, backend }) => ({ type, defaults: backend.simulation }));
}
