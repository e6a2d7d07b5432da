// The CML API v2 objects rayfleet uses, with field names exactly as in the swagger (mlapiv2/api.proto 26.06.13).
//
// `*Wire` types are what travels: proto3 JSON, so every response field may be absent, int64 values are
// decimal strings and `environment` is a JSON-encoded string. The types without the suffix are what the
// client hands out: `environment` decoded to a map, `id` and `status` always present.

/** An int64 field: proto3 JSON sends it as a decimal string. */
export type Int64String = string;
/** An RFC 3339 timestamp, e.g. `2026-01-02T03:04:05.678Z`. */
export type Timestamp = string;
export type Environment = Record<string, string>;

/** Definition `ShortUser`. */
export interface ShortUser {
  username?: string;
  name?: string;
  email?: string;
}

/** Definition `ShortProject`. */
export interface ShortProject {
  public_identifier?: string;
  name?: string;
  default_project_engine?: string;
  slug?: string;
}

/** Definition `ProjectPermissions`. */
export interface ProjectPermissions {
  read?: boolean;
  write?: boolean;
  admin?: boolean;
  business_user?: boolean;
  operator?: boolean;
  inherit?: boolean;
}

/** Definition `runtimeError`: the body of every non-200 answer. `code` is the gRPC status code. */
export interface RuntimeError {
  error?: string;
  code?: number;
  message?: string;
  details?: unknown[];
}

// ---- Projects

/** Definition `Project`. */
export interface ProjectWire {
  id?: string;
  name?: string;
  owner?: ShortUser;
  creator?: ShortUser;
  description?: string;
  visibility?: string;
  default_engine_type?: string;
  created_at?: Timestamp;
  updated_at?: Timestamp;
  /** `creating`, `success` or `failure`: a project imported from git is usable once this leaves `creating`. */
  creation_status?: string;
  permissions?: ProjectPermissions;
  /** MB of /dev/shm for every engine of the project. */
  shared_memory_limit?: number;
  environment?: string;
  ephemeral_storage_request?: number;
  ephemeral_storage_limit?: number;
  slug?: string;
}

/** Definition `CreateProjectRequest`. A blank project: no `git_url` (template `local`); from git: `git_url` (+ `git_ref`). */
export interface CreateProjectRequest {
  name: string;
  description?: string;
  visibility?: 'public' | 'organization' | 'private';
  parent_project?: string;
  git_url?: string;
  template?: string;
  organization_permission?: string;
  default_project_engine_type?: 'ml_runtime' | 'legacy_engine' | '';
  environment?: Environment;
  shared_memory_limit?: number;
  team_name?: string;
  git_ref?: string;
}

/** Definition `ListProjectsResponse`. */
export interface ListProjectsResponse {
  projects?: ProjectWire[];
  next_page_token?: string;
}

// ---- Applications

/** Definition `ApplicationStatus`. List filters use the lowercase word instead (`running`). */
export type ApplicationStatus =
  | 'APPLICATION_UNKNOWN'
  | 'APPLICATION_STARTING'
  | 'APPLICATION_RUNNING'
  | 'APPLICATION_STOPPING'
  | 'APPLICATION_STOPPED'
  | 'APPLICATION_FAILED';

/** Definition `Application`; also the body of UpdateApplication, where only the fields present change. */
export interface ApplicationWire {
  id?: string;
  name?: string;
  description?: string;
  creator?: ShortUser;
  /** Path relative to the project root (/home/cdsw). */
  script?: string;
  subdomain?: string;
  status?: ApplicationStatus;
  created_at?: Timestamp;
  stopped_at?: Timestamp;
  updated_at?: Timestamp;
  starting_at?: Timestamp;
  running_at?: Timestamp;
  kernel?: string;
  cpu?: number;
  /** GB. */
  memory?: number;
  nvidia_gpu?: number;
  bypass_authentication?: boolean;
  environment?: string;
  runtime_identifier?: string;
  runtime_addon_identifiers?: string[];
  run_as?: number;
  cdv_app?: boolean;
  accelerator_label_id?: Int64String;
  resource_group_id?: number;
  resource_profile_id?: number;
}

/** Definition `CreateApplicationRequest`; the application starts at once. */
export interface CreateApplicationRequest {
  project_id?: string;
  name: string;
  /** Lowercase letters and digits separated by single dashes; unique in the workspace. */
  subdomain: string;
  description?: string;
  script: string;
  cpu?: number;
  memory?: number;
  nvidia_gpu?: number;
  environment?: Environment;
  /** Leave blank in runtime projects. */
  kernel?: string;
  bypass_authentication?: boolean;
  /** Required in runtime projects: an `image_identifier` from ListRuntimes. */
  runtime_identifier?: string;
  runtime_addon_identifiers?: string[];
  run_as?: number;
  cdv_app?: boolean;
  accelerator_label_id?: Int64String;
  resource_group_id?: number;
  resource_profile_id?: number;
}

/** Definition `ListApplicationsResponse`. */
export interface ListApplicationsResponse {
  applications?: ApplicationWire[];
  next_page_token?: string;
}

// ---- Jobs and job runs

/** Definition `JobRecipient`. */
export interface JobRecipient {
  email?: string;
  notify_on_success?: boolean;
  notify_on_failure?: boolean;
  notify_on_timeout?: boolean;
  notify_on_stop?: boolean;
}

/** Definition `Job`. */
export interface JobWire {
  id?: string;
  cpu?: number;
  created_at?: Timestamp;
  creator?: ShortUser;
  engine_image_id?: Int64String;
  english_schedule?: string;
  arguments?: string;
  /** `manual`, `cron` or `dependent`. */
  type?: string;
  kernel?: string;
  memory?: number;
  name?: string;
  parent_id?: string;
  paused?: boolean;
  schedule?: string;
  script?: string;
  /** Seconds, int64 here although CreateJobRequest takes it as an int32 number. */
  timeout?: Int64String;
  timezone?: string;
  updated_at?: Timestamp;
  environment?: string;
  nvidia_gpu?: number;
  runtime_identifier?: string;
  runtime_addon_identifiers?: string[];
  kill_on_timeout?: boolean;
  project?: ShortProject;
  owner?: ShortUser;
  run_as?: number;
  accelerator_label_id?: Int64String;
  retry_enabled?: boolean;
  max_retry?: number;
  retry_delay?: number;
  retry_for_script_failure?: boolean;
  retry_for_system_failure?: boolean;
  retry_for_timedout_runs?: boolean;
  retry_for_skipped_runs?: boolean;
  recipients?: JobRecipient[];
  attachments?: string[];
  success_recipients?: string;
  failure_recipients?: string;
  timeout_recipients?: string;
  stopped_recipients?: string;
  resource_group_id?: number;
  resource_profile_id?: number;
}

/** Definition `CreateJobRequest`. */
export interface CreateJobRequest {
  project_id?: string;
  name: string;
  script: string;
  cpu?: number;
  memory?: number;
  nvidia_gpu?: number;
  /** Deprecated alias of `parent_id`. */
  parent_job_id?: string;
  environment?: Environment;
  arguments?: string;
  /** Seconds (an int32 number here, an int64 string in `Job`). */
  timeout?: number;
  schedule?: string;
  kernel?: string;
  recipients?: JobRecipient[];
  attachments?: string[];
  runtime_identifier?: string;
  runtime_addon_identifiers?: string[];
  kill_on_timeout?: boolean;
  timezone?: string;
  paused?: boolean;
  parent_id?: string;
  success_recipients?: string;
  failure_recipients?: string;
  timeout_recipients?: string;
  stopped_recipients?: string;
  run_as?: number;
  accelerator_label_id?: Int64String;
  retry_enabled?: boolean;
  max_retry?: number;
  retry_delay?: number;
  retry_for_script_failure?: boolean;
  retry_for_system_failure?: boolean;
  retry_for_timedout_runs?: boolean;
  retry_for_skipped_runs?: boolean;
  resource_group_id?: number;
  resource_profile_id?: number;
}

/** Definition `ListJobsResponse`. */
export interface ListJobsResponse {
  jobs?: JobWire[];
  next_page_token?: string;
}

/** Definition `EngineStatus`: the status of a job run. List filters use the lowercase word instead (`running`). */
export type EngineStatus =
  | 'ENGINE_SCHEDULING'
  | 'ENGINE_STARTING'
  | 'ENGINE_RUNNING'
  | 'ENGINE_STOPPING'
  | 'ENGINE_STOPPED'
  | 'ENGINE_UNKNOWN'
  | 'ENGINE_SUCCEEDED'
  | 'ENGINE_FAILED'
  | 'ENGINE_TIMEDOUT'
  | 'ENGINE_SKIPPED';

/** The run statuses after which nothing changes any more (STOPPING and UNKNOWN are not among them). */
export const TERMINAL_ENGINE_STATUSES: ReadonlySet<EngineStatus> = new Set([
  'ENGINE_SUCCEEDED',
  'ENGINE_FAILED',
  'ENGINE_TIMEDOUT',
  'ENGINE_STOPPED',
  'ENGINE_SKIPPED',
]);

/** Definition `JobRun`. */
export interface JobRunWire {
  project_id?: string;
  job_id?: string;
  status?: EngineStatus;
  id?: string;
  created_at?: Timestamp;
  scheduling_at?: Timestamp;
  starting_at?: Timestamp;
  running_at?: Timestamp;
  finished_at?: Timestamp;
  kernel?: string;
  cpu?: number;
  memory?: number;
  nvidia_gpu?: number;
  arguments?: string;
  environment?: string;
  creator?: ShortUser;
  runtime_identifier?: string;
  resource_group_id?: number;
}

/** Definition `CreateJobRunRequest`: environment and arguments for this run only. */
export interface CreateJobRunRequest {
  project_id?: string;
  job_id?: string;
  environment?: Environment;
  arguments?: string;
}

/** Definition `ListJobRunsResponse` (the items are under `job_runs`, not `runs`). */
export interface ListJobRunsResponse {
  job_runs?: JobRunWire[];
  next_page_token?: string;
}

// ---- Runtimes

/** Definition `Runtime`. */
export interface Runtime {
  /** The full image reference, used as `runtime_identifier` in applications and jobs. */
  image_identifier?: string;
  editor?: string;
  kernel?: string;
  edition?: string;
  description?: string;
  full_version?: string;
  status?: string;
  register_user_id?: number;
}

/** Definition `ListRuntimesResponse`. */
export interface ListRuntimesResponse {
  runtimes?: Runtime[];
  next_page_token?: string;
}

// ---- Project files

/** Definition `FileInfo`. */
export interface FileInfo {
  /** The basename, relative to the listed directory. */
  path?: string;
  is_dir?: boolean;
  /** Bytes; unset for directories. */
  file_size?: Int64String;
}

/** Definition `ListProjectFilesResponse` (not paginated). */
export interface ListProjectFilesResponse {
  files?: FileInfo[];
}

// ---- Search filters: the keys each list operation's swagger description supports. Matching is a
// case-sensitive substring match, so the client re-checks equality where it looks for one name.

export interface ProjectSearchFilter {
  name?: string;
  description?: string;
  'creator.email'?: string;
  'creator.name'?: string;
  'creator.username'?: string;
  'owner.email'?: string;
  'owner.name'?: string;
  'owner.username'?: string;
}

export interface ApplicationSearchFilter {
  name?: string;
  description?: string;
  script?: string;
  subdomain?: string;
  kernel?: string;
  status?: 'running' | 'stopping' | 'stopped' | 'starting' | 'failed';
  bypass_authentication?: boolean;
  'creator.email'?: string;
  'creator.name'?: string;
  'creator.username'?: string;
}

export interface JobSearchFilter {
  name?: string;
  description?: string;
  script?: string;
  kernel?: string;
  paused?: boolean;
  type?: string;
  'creator.email'?: string;
  'creator.name'?: string;
  'creator.username'?: string;
}

export interface JobRunSearchFilter {
  status?: 'scheduling' | 'running' | 'stopping' | 'stopped' | 'succeeded' | 'failed' | 'timedout';
}

export interface RuntimeSearchFilter {
  image_identifier?: string;
  editor?: string;
  kernel?: string;
  edition?: string;
  description?: string;
  full_version?: string;
}

/** How a list is asked for; every page is fetched with the same `pageSize`. */
export interface ListOptions<Filter> {
  searchFilter?: Filter;
  /** e.g. `-created_at,+name`. */
  sort?: string;
  pageSize?: number;
}

// ---- What the client hands out

type Decoded<Wire extends { id?: string; environment?: string }> = Omit<Wire, 'id' | 'environment'> & {
  id: string;
  environment: Environment;
};

export type Project = Decoded<ProjectWire>;
export type Application = Decoded<ApplicationWire> & { status: ApplicationStatus };
export type Job = Decoded<JobWire>;
export type JobRun = Decoded<JobRunWire> & { status: EngineStatus };

/** The fields of an application that UpdateApplication changes; a restart makes them take effect. */
export type ApplicationUpdate = Partial<
  Pick<
    Application,
    | 'name'
    | 'subdomain'
    | 'description'
    | 'script'
    | 'kernel'
    | 'cpu'
    | 'memory'
    | 'nvidia_gpu'
    | 'bypass_authentication'
    | 'environment'
    | 'runtime_identifier'
    | 'runtime_addon_identifiers'
    | 'accelerator_label_id'
    | 'resource_group_id'
    | 'resource_profile_id'
  >
>;
