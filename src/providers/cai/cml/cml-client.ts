// A typed client of the CML API v2 endpoints rayfleet uses: projects, applications, jobs and runs, runtimes, project files.
import { dirname, posix } from 'node:path';
import { RayfleetError, isRayfleetError } from '../../../errors.js';
import { decodeApplication, decodeJob, decodeJobRun, decodeProject, encodeEnvironment } from './cml-decode.js';
import { CmlHttp, type CmlHttpOptions, type QueryValue } from './cml-http.js';
import type {
  Application,
  ApplicationSearchFilter,
  ApplicationUpdate,
  ApplicationWire,
  CreateApplicationRequest,
  CreateJobRequest,
  CreateJobRunRequest,
  CreateProjectRequest,
  FileInfo,
  Job,
  JobRun,
  JobRunSearchFilter,
  JobRunWire,
  JobSearchFilter,
  JobWire,
  ListJobRunsResponse,
  ListOptions,
  ListProjectFilesResponse,
  Project,
  ProjectSearchFilter,
  ProjectWire,
  Runtime,
  RuntimeSearchFilter,
} from './cml-types.js';

/** The transport's options; `traceFile` defaults to RAYFLEET_HTTP_TRACE. */
export type CmlClientOptions = CmlHttpOptions;

export interface ProjectListOptions extends ListOptions<ProjectSearchFilter> {
  /** Also the public projects the user can see, not only their own. */
  includePublicProjects?: boolean;
}

export interface UploadOptions {
  /** Delete what is at the path first: CML never overwrites, it stores the upload as `name(1).ext` instead. */
  replace?: boolean;
}

/** Lists are fetched in pages of this many unless the caller says otherwise. */
const DEFAULT_PAGE_SIZE = 100;
const API = '/api/v2';

export class CmlClient {
  private readonly http: CmlHttp;

  constructor(options: CmlClientOptions) {
    this.http = new CmlHttp(options);
  }

  get host(): string {
    return this.http.host;
  }

  /** The API key as it may be shown: `abcd…yz`. */
  get maskedKey(): string {
    return this.http.maskedKey;
  }

  // ---- Projects

  async listProjects(options: ProjectListOptions = {}, signal?: AbortSignal): Promise<Project[]> {
    const query = { ...listQuery(options), include_public_projects: options.includePublicProjects };
    return (await collect(this.http.paginate<ProjectWire>(`${API}/projects`, 'projects', query, signal))).map(decodeProject);
  }

  /** Projects named exactly `name` (the API's filter matches substrings). */
  async findProjectsByName(name: string, signal?: AbortSignal): Promise<Project[]> {
    return (await this.listProjects({ searchFilter: { name } }, signal)).filter((project) => project.name === name);
  }

  async getProject(projectId: string, signal?: AbortSignal): Promise<Project> {
    return decodeProject(await this.http.call<ProjectWire>({ method: 'GET', path: projectPath(projectId), idempotent: true }, signal));
  }

  /** A blank project, or one imported from `git_url` (poll `creation_status` until it leaves `creating`). */
  async createProject(request: CreateProjectRequest, signal?: AbortSignal): Promise<Project> {
    return this.http.call(
      {
        method: 'POST',
        path: `${API}/projects`,
        body: request,
        decode: (answer) => decodeProject(answer as ProjectWire),
        idempotent: false,
        reconcile: async (lookSignal) => newest(await this.findProjectsByName(request.name, lookSignal)),
      },
      signal,
    );
  }

  // ---- Applications

  async listApplications(projectId: string, options: ListOptions<ApplicationSearchFilter> = {}, signal?: AbortSignal): Promise<Application[]> {
    return (await collect(this.http.paginate<ApplicationWire>(`${projectPath(projectId)}/applications`, 'applications', listQuery(options), signal))).map(decodeApplication);
  }

  /** Applications named exactly `name` (the API's filter matches substrings). */
  async findApplicationsByName(projectId: string, name: string, signal?: AbortSignal): Promise<Application[]> {
    return (await this.listApplications(projectId, { searchFilter: { name } }, signal)).filter((application) => application.name === name);
  }

  async getApplication(projectId: string, applicationId: string, signal?: AbortSignal): Promise<Application> {
    return decodeApplication(await this.http.call<ApplicationWire>({ method: 'GET', path: applicationPath(projectId, applicationId), idempotent: true }, signal));
  }

  /**
   * Creates the application, which CML starts at once. An attempt that may have taken effect (timeout, 5xx) is
   * followed by a look for the application by name and subdomain, so it is never created twice.
   */
  async createApplication(projectId: string, request: CreateApplicationRequest, signal?: AbortSignal): Promise<Application> {
    return this.http.call(
      {
        method: 'POST',
        path: `${projectPath(projectId)}/applications`,
        body: request,
        decode: (answer) => decodeApplication(answer as ApplicationWire),
        idempotent: false,
        reconcile: async (lookSignal) => {
          const named = await this.findApplicationsByName(projectId, request.name, lookSignal);
          return newest(named.filter((application) => application.subdomain === request.subdomain));
        },
      },
      signal,
    );
  }

  /** Changes the given fields; a restart makes resource and environment changes take effect. */
  async updateApplication(projectId: string, applicationId: string, update: ApplicationUpdate, signal?: AbortSignal): Promise<Application> {
    const { environment, ...fields } = update;
    // The body is the response type, whose environment is a JSON string.
    const body: ApplicationWire = environment === undefined ? fields : { ...fields, environment: encodeEnvironment(environment) };
    return decodeApplication(await this.http.call<ApplicationWire>({ method: 'PATCH', path: applicationPath(projectId, applicationId), body, idempotent: true }, signal));
  }

  async stopApplication(projectId: string, applicationId: string, signal?: AbortSignal): Promise<Application> {
    return decodeApplication(await this.http.call<ApplicationWire>({ method: 'POST', path: `${applicationPath(projectId, applicationId)}:stop`, idempotent: true }, signal));
  }

  /** Starts a stopped or failed application again (and restarts a running one). */
  async restartApplication(projectId: string, applicationId: string, signal?: AbortSignal): Promise<Application> {
    return decodeApplication(await this.http.call<ApplicationWire>({ method: 'POST', path: `${applicationPath(projectId, applicationId)}:restart`, idempotent: true }, signal));
  }

  async deleteApplication(projectId: string, applicationId: string, signal?: AbortSignal): Promise<void> {
    await this.http.call({ method: 'DELETE', path: applicationPath(projectId, applicationId), idempotent: true, whenAlreadyGone: {} }, signal);
  }

  // ---- Jobs and runs

  async listJobs(projectId: string, options: ListOptions<JobSearchFilter> = {}, signal?: AbortSignal): Promise<Job[]> {
    return (await collect(this.http.paginate<JobWire>(`${projectPath(projectId)}/jobs`, 'jobs', listQuery(options), signal))).map(decodeJob);
  }

  /** Jobs named exactly `name` (the API's filter matches substrings). */
  async findJobsByName(projectId: string, name: string, signal?: AbortSignal): Promise<Job[]> {
    return (await this.listJobs(projectId, { searchFilter: { name } }, signal)).filter((job) => job.name === name);
  }

  async getJob(projectId: string, jobId: string, signal?: AbortSignal): Promise<Job> {
    return decodeJob(await this.http.call<JobWire>({ method: 'GET', path: jobPath(projectId, jobId), idempotent: true }, signal));
  }

  /** Creates the job (it does not run yet); like applications, looked for by name before a create is repeated. */
  async createJob(projectId: string, request: CreateJobRequest, signal?: AbortSignal): Promise<Job> {
    return this.http.call(
      {
        method: 'POST',
        path: `${projectPath(projectId)}/jobs`,
        body: request,
        decode: (answer) => decodeJob(answer as JobWire),
        idempotent: false,
        reconcile: async (lookSignal) => newest(await this.findJobsByName(projectId, request.name, lookSignal)),
      },
      signal,
    );
  }

  async deleteJob(projectId: string, jobId: string, signal?: AbortSignal): Promise<void> {
    await this.http.call({ method: 'DELETE', path: jobPath(projectId, jobId), idempotent: true, whenAlreadyGone: {} }, signal);
  }

  async listJobRuns(projectId: string, jobId: string, options: ListOptions<JobRunSearchFilter> = {}, signal?: AbortSignal): Promise<JobRun[]> {
    return (await collect(this.http.paginate<JobRunWire>(`${jobPath(projectId, jobId)}/runs`, 'job_runs', listQuery(options), signal))).map(decodeJobRun);
  }

  async getJobRun(projectId: string, jobId: string, runId: string, signal?: AbortSignal): Promise<JobRun> {
    return decodeJobRun(await this.http.call<JobRunWire>({ method: 'GET', path: `${jobPath(projectId, jobId)}/runs/${encodeURIComponent(runId)}`, idempotent: true }, signal));
  }

  /**
   * Starts a run of the job. Runs have no name to look for, so the newest run is noted first: after an attempt that
   * may have taken effect, a newer run than that one is the one this call made (a job has one active run at a time).
   */
  async createJobRun(projectId: string, jobId: string, request: CreateJobRunRequest = {}, signal?: AbortSignal): Promise<JobRun> {
    const before = await this.newestJobRun(projectId, jobId, signal);
    return this.http.call(
      {
        method: 'POST',
        path: `${jobPath(projectId, jobId)}/runs`,
        body: request,
        decode: (answer) => decodeJobRun(answer as JobRunWire),
        idempotent: false,
        reconcile: async (lookSignal) => {
          const latest = await this.newestJobRun(projectId, jobId, lookSignal);
          return latest !== undefined && latest.id !== before?.id ? latest : undefined;
        },
      },
      signal,
    );
  }

  // ---- Runtimes

  /** The runtimes of the workspace; `image_identifier` is what applications and jobs take as `runtime_identifier`. */
  async listRuntimes(options: ListOptions<RuntimeSearchFilter> = {}, signal?: AbortSignal): Promise<Runtime[]> {
    return collect(this.http.paginate<Runtime>(`${API}/runtimes`, 'runtimes', listQuery(options), signal));
  }

  // ---- Project files

  /** The entries of a directory (or the one file) at `path`, relative to the project root; not paginated. */
  async listProjectFiles(projectId: string, path = '.', signal?: AbortSignal): Promise<FileInfo[]> {
    const answer = await this.http.call<ListProjectFilesResponse>({ method: 'GET', path: `${projectPath(projectId)}/files/${encodeFilePath(path)}`, idempotent: true }, signal);
    return answer.files ?? [];
  }

  /**
   * Uploads one file to `path` (relative to the project root). After an attempt that may have taken effect, a file
   * of the same size at the path counts as uploaded, because uploading again would store a `name(1).ext` copy.
   */
  async uploadFile(projectId: string, path: string, content: string | Uint8Array, options: UploadOptions = {}, signal?: AbortSignal): Promise<void> {
    const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
    const target = normalizeFilePath(path);
    if (options.replace === true) await this.deleteProjectFile(projectId, target, signal).catch(ignoreNotFound);
    await this.http.call<object>(
      {
        method: 'POST',
        path: `${projectPath(projectId)}/files`,
        files: [{ path: target, content: bytes }],
        idempotent: false,
        reconcile: async (lookSignal) => {
          const entries = await this.listProjectFiles(projectId, dirname(target), lookSignal).catch((error: unknown) => ignoreNotFound(error) ?? []);
          const uploaded = entries.some((entry) => entry.path === posix.basename(target) && entry.is_dir !== true && entry.file_size === String(bytes.byteLength));
          return uploaded ? {} : undefined;
        },
      },
      signal,
    );
  }

  /** The bytes of the file at `path`, relative to the project root; CAI_NOT_FOUND when there is no file there. */
  async downloadFile(projectId: string, path: string, signal?: AbortSignal): Promise<Uint8Array> {
    return this.http.callForBytes({ method: 'POST', path: `${projectPath(projectId)}/files/${encodeFilePath(path)}:download`, idempotent: true }, signal);
  }

  /** The file at `path` as UTF-8 text; undefined when there is no such file. */
  async readTextFile(projectId: string, path: string, signal?: AbortSignal): Promise<string | undefined> {
    const bytes = await this.downloadFile(projectId, path, signal).catch(ignoreNotFound);
    return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
  }

  /** Deletes a file or a whole directory. */
  async deleteProjectFile(projectId: string, path: string, signal?: AbortSignal): Promise<void> {
    await this.http.call({ method: 'DELETE', path: `${projectPath(projectId)}/files/${encodeFilePath(path)}`, idempotent: true, whenAlreadyGone: {} }, signal);
  }

  private async newestJobRun(projectId: string, jobId: string, signal: AbortSignal | undefined): Promise<JobRun | undefined> {
    const page = await this.http.call<ListJobRunsResponse>(
      { method: 'GET', path: `${jobPath(projectId, jobId)}/runs`, query: { sort: '-created_at', page_size: 1 }, idempotent: true },
      signal,
    );
    const latest = page.job_runs?.[0];
    return latest === undefined ? undefined : decodeJobRun(latest);
  }
}

function listQuery<Filter>(options: ListOptions<Filter>): Record<string, QueryValue> {
  return {
    // A JSON object in the query string; the same page size on every page, as the API requires.
    search_filter: options.searchFilter === undefined ? undefined : JSON.stringify(options.searchFilter),
    sort: options.sort,
    page_size: options.pageSize ?? DEFAULT_PAGE_SIZE,
  };
}

async function collect<Item>(items: AsyncIterable<Item>): Promise<Item[]> {
  const all: Item[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** The most recently created of several objects with the same name. */
function newest<Item extends { created_at?: string }>(items: Item[]): Item | undefined {
  return items.reduce<Item | undefined>((best, item) => (best === undefined || (item.created_at ?? '') > (best.created_at ?? '') ? item : best), undefined);
}

function ignoreNotFound(error: unknown): undefined {
  if (isRayfleetError(error, 'CAI_NOT_FOUND')) return undefined;
  throw error;
}

function projectPath(projectId: string): string {
  return `${API}/projects/${encodeURIComponent(projectId)}`;
}

function applicationPath(projectId: string, applicationId: string): string {
  return `${projectPath(projectId)}/applications/${encodeURIComponent(applicationId)}`;
}

function jobPath(projectId: string, jobId: string): string {
  return `${projectPath(projectId)}/jobs/${encodeURIComponent(jobId)}`;
}

/** `./a//b/` → `a/b`; the project root is `.`. A path leaving the project is refused before anything is sent. */
function normalizeFilePath(path: string): string {
  const normalized = posix.normalize(path.replace(/^\/home\/cdsw(\/|$)/, '')).replace(/^\/+|\/+$/g, '');
  if (normalized === '..' || normalized.startsWith('../')) throw new RayfleetError('USAGE', `project file path ${JSON.stringify(path)} leaves the project`);
  return normalized === '' ? '.' : normalized;
}

/**
 * `{path}` spans segments, so each is percent-encoded and the slashes kept. The root goes as `%2F`: a literal `.`
 * would be dropped by URL normalization (the API also takes an empty path and `.` for the root, verified live).
 */
function encodeFilePath(path: string): string {
  const normalized = normalizeFilePath(path);
  return normalized === '.' ? '%2F' : normalized.split('/').map(encodeURIComponent).join('/');
}
