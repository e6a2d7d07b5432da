// Every environment variable rayfleet reads, in one list with what each is for; nothing else reads process.env.
/** The variables, grouped as the README's table groups them. A variable not listed here cannot be read. */
export const ENVIRONMENT_VARIABLES = {
  // The spec: applied over rayfleet.yaml, under the flags (spec/overrides.ts).
  RAYFLEET_CLUSTER: 'the cluster: `name`',
  RAYFLEET_PROVIDER: '`provider.type` (a type other than the file\'s replaces the file\'s provider)',
  RAY_IMAGE_VERSION: '`provider.image` of a Docker cluster (the old toolkit\'s variable: a whole image reference)',
  RAYFLEET_PYTHON: '`ray.python`: an interpreter with Ray, instead of the managed venv',
  RAY_HEAD_ADDRESS: '`watcher.headAddress`: the Ray client address of a head started elsewhere, for `env`',
  RAY_DASHBOARD_METRIC_API: "`watcher.dashboardMetricApi`: the dashboard API the watcher's fallback view reads",
  WATCHER_CHECK_INTERVAL: '`watcher.interval` (plain numbers are seconds)',
  WATCHER_PENDING_THRESHOLD: '`watcher.pendingThreshold`',
  WATCHER_MAX_WORKERS: '`watcher.maxWorkers`',
  WATCHER_COOLDOWN: '`watcher.cooldown` (plain numbers are seconds)',
  WATCHER_NUM_CPUS: "the default worker group's `cpus`",
  WATCHER_NUM_GPUS: "the default worker group's `gpus`",
  WATCHER_OBJECT_STORE_MEMORY: "the default worker group's `objectStoreMemory`",
  // rayfleet itself.
  RAYFLEET_HOME: "where clusters keep their state (default: the user's data directory)",
  RAYFLEET_CACHE_DIR: 'where managed Ray venvs are cached (default: the user\'s cache directory)',
  RAYFLEET_BOOTSTRAP_PYTHON: 'the Python that builds the managed venv (default: python3)',
  RAYFLEET_LOG_LEVEL: 'log level of what goes to stderr: trace, debug, info, warn (default), error',
  RAYFLEET_DEBUG: 'set: an unexpected error prints its stack',
  RAYFLEET_HTTP_TRACE: 'a file that receives a redacted trace of every CML API request',
  RAYFLEET_FAILPOINTS: 'test facility: names of points at which the process kills itself (see "What rayfleet guarantees")',
  RAYFLEET_CAI_HEAD_ADDRESS: "inside a CML head: the head's own address, set by its launcher for the watcher there",
  // Cloudera AI: ours from outside CML, CML's own inside its workloads.
  CML_API_KEY: 'the CML API v2 key (never on the command line)',
  CDSW_APIV2_KEY: 'the key CML sets inside its workloads, when CML_API_KEY is not set',
  CML_HOST: 'the CML workspace URL',
  CDSW_API_URL: 'the workspace URL CML sets inside its workloads (its /api/v1 is dropped)',
  CDSW_DOMAIN: "the workspace's domain, when neither of those is set",
  CML_PROJECT_ID: 'the CML project, where the spec names none',
  CDSW_PROJECT_ID: 'the project CML sets inside its workloads',
  CDSW_ENGINE_ID: "set by CML inside every workload: rayfleet is inside CML's network there and reaches a head at its pod address",
  RAYFLEET_CAI_INGRESS: "host:port where the workspace's applications are reached when their names do not resolve here (a tunnel to the ingress)",
  // Other tools' conventions.
  DOCKER_HOST: 'the Docker Engine (unix:///var/run/docker.sock by default)',
  CI: '`true`: no progress lines on stderr',
  PATH: 'searched for python3 and docker; local nodes get it with the managed venv\'s bin/ first',
} as const;

export type EnvironmentVariable = keyof typeof ENVIRONMENT_VARIABLES;

/** The variable's value, or undefined when unset or blank (a blank one means "not set" everywhere in rayfleet). */
export function readEnv(name: EnvironmentVariable, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}
