// Where rayfleet keeps its files in a CML project (paths relative to the project root, /home/cdsw in every workload).

/** Everything rayfleet puts in a project lives below this. */
export const RAYFLEET_DIR = '.rayfleet';
/** The launcher every node application runs. */
export const LAUNCHER_SCRIPT = `${RAYFLEET_DIR}/ray_launcher.py`;
/** The setup job's script: builds the venv with Ray and Node. */
export const SETUP_SCRIPT = `${RAYFLEET_DIR}/setup_env.py`;
/** The single-file rayfleet the in-cluster watcher runs, and the proto it reads. */
export const BUNDLE = `${RAYFLEET_DIR}/rayfleet.mjs`;
export const BUNDLE_PROTO = `${RAYFLEET_DIR}/proto/autoscaler.proto`;
/** The dashboard page's script and styles, which the bundle's dashboard in the head serves from beside itself. */
export const BUNDLE_PAGE_DIR = `${RAYFLEET_DIR}/page`;
/** RAYFLEET_HOME of rayfleet inside the project: the in-cluster watcher's state. */
export const PROJECT_HOME = `${RAYFLEET_DIR}/home`;

/** The launchers' files for one cluster: the head's published address, each node's log. */
export function clusterDir(cluster: string): string {
  return `${RAYFLEET_DIR}/clusters/${cluster}`;
}

export function headAddressFile(cluster: string): string {
  return `${clusterDir(cluster)}/head-address`;
}

/** RAYFLEET_HOME of the dashboard in the head application: its lock and token, and a link to this one cluster's state. */
export function headDashboardHome(cluster: string): string {
  return `${clusterDir(cluster)}/control-plane`;
}

/** The head's dashboard token (0600), which `rayfleet dashboard --token -c NAME` reads through the API: there only while the cluster is. */
export function headDashboardTokenFile(cluster: string): string {
  return `${headDashboardHome(cluster)}/dashboard/token`;
}

export function nodeLogFile(cluster: string, node: string): string {
  return `${clusterDir(cluster)}/logs/${node}.log`;
}

/** The cluster's state as the in-cluster watcher reads it (RAYFLEET_HOME = PROJECT_HOME). */
export function projectStateDir(cluster: string): string {
  return `${PROJECT_HOME}/clusters/${cluster}`;
}

/** The project's copy of the cluster's Ray token, which every node reads: there only while the cluster is. */
export function projectTokenFile(cluster: string): string {
  return `${projectStateDir(cluster)}/auth_token`;
}

/** The project's copy of the record `up` wrote, the in-cluster watcher's spec. */
export function projectRecordFile(cluster: string): string {
  return `${projectStateDir(cluster)}/cluster.json`;
}
