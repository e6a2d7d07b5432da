// The public library API of rayfleet: exactly what is exported here; everything else is private.
export { Fleet, type FleetOptions, type AddWorkersOptions, type RemoveWorkerOptions } from './fleet/fleet.js';
export type { ClusterStatus, NodeStatus, RayView, ClusterTotals } from './fleet/cluster-status.js';
export { loadSpec, type LoadSpecOptions, type LoadedSpec } from './spec/load-spec.js';
export type { SpecOverrides } from './spec/overrides.js';
export { clusterSpecJsonSchema, type ClusterSpec, type HeadSpec, type WorkerGroupSpec, type WatcherSpec, type ProviderSpec, type NodeShape } from './spec/schema.js';
export type { NodeProvider, Instance, InstanceState, LaunchRequest, LogOptions, NodeResources, NodeRole } from './providers/node-provider.js';
export { LocalProvider, type LocalProviderOptions } from './providers/local/local-provider.js';
export { ensureRuntime, type Runtime, type RuntimeOptions } from './ray/runtime.js';
export { Journal, type JournalRead } from './journal/journal.js';
export type { JournalEvent, EventType } from './journal/event.js';
export { RayfleetError, ExitCode, type ErrorCode, isRayfleetError } from './errors.js';
