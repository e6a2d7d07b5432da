// A node's processes that carry a cluster's id and that no node record accounts for, as a launcher of an older version
// killed mid-launch could leave: the variable that carries the id, and what a provider reports of such processes.

/** Every node's environment carries its cluster's unique id (made at `up`) under this name: names alone repeat across homes. */
export const CLUSTER_ID_VARIABLE = 'RAYFLEET_CLUSTER_ID';

/** One group of processes of this cluster that no record accounts for. */
export interface OrphanProcess {
  /** The provider's handle of the group (a process group id): what `stopOrphan` is given back. */
  providerId: string;
  /** The node name its processes carry (RAY_CLOUD_INSTANCE_ID), when they carry one. */
  name: string | undefined;
  pids: number[];
}
