// Applications: each one's script runs as a real process (python <script> in the project directory) listening on
// CDSW_APP_PORT. STARTING → RUNNING once it listens; STOPPING → STOPPED when stopped; FAILED when it dies on its own.
import { join } from 'node:path';
import { findFreePort } from '../../src/net/ports.js';
import { ApiError, GrpcCode } from './api-error.js';
import { engineEnvironment } from './engine-env.js';
import { listPage } from './listing.js';
import { checkRuntime } from './runtimes.js';
import { EMULATOR_USER, newEngineId, newId, now, type StoredApplication, type StoredProject } from './store.js';
import { Workload } from './workload.js';
import { bodyOf, enqueue, environmentOf, logLine, projectOf, render, requireText, type Handler, type World } from './world.js';

/** As observed from CML ("Problem with field Subdomain: invalid pattern"); 63 is the DNS label limit. */
const SUBDOMAIN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const SUBDOMAIN_MAX = 63;

/** Fields an update may change, by swagger name; the rest of `Application` is the server's. */
const UPDATABLE = [
  'name',
  'description',
  'script',
  'subdomain',
  'kernel',
  'cpu',
  'memory',
  'nvidia_gpu',
  'bypass_authentication',
  'environment',
  'runtime_identifier',
  'runtime_addon_identifiers',
  'accelerator_label_id',
  'resource_group_id',
  'resource_profile_id',
] as const;

export function applicationHandlers(world: World): Record<string, Handler> {
  return {
    ListApplications: async ({ params, query, operation }) => {
      const project = projectOf(world, params.project_id);
      const mine = [...world.store.applications.values()].filter((application) => application.projectId === project.id);
      const page = listPage(
        mine.map((application) => renderApplication(world, application)),
        query,
        operation,
      );
      return { applications: page.items, next_page_token: page.next_page_token };
    },

    GetApplication: async ({ params }) => renderApplication(world, applicationOf(world, params.project_id, params.application_id)),

    CreateApplication: async (context) => {
      const project = projectOf(world, context.params.project_id);
      const body = bodyOf(context);
      const name = requireText(body, 'name', 'application name');
      const script = requireText(body, 'script', 'application script');
      const subdomain = checkSubdomain(world, body.subdomain, undefined);
      checkBypass(world, body);
      checkRuntime(project, body);
      checkResources(body);
      const id = newId();
      const created = now(world.clock);
      const application: StoredApplication = {
        id,
        projectId: project.id,
        name,
        subdomain,
        script,
        environment: environmentOf(body),
        status: 'APPLICATION_STARTING',
        port: undefined,
        generation: 0,
        lifecycle: Promise.resolve(),
        workload: undefined,
        engineId: undefined,
        logPath: join(world.logsDirectory, `application-${id}.log`),
        fields: {
          ...withoutRequestOnly(body),
          cpu: body.cpu ?? 1,
          memory: body.memory ?? 1,
          nvidia_gpu: body.nvidia_gpu ?? 0,
          created_at: created,
          updated_at: created,
        },
      };
      world.store.applications.set(id, application);
      startApplication(world, project, application);
      return renderApplication(world, application);
    },

    UpdateApplication: async (context) => {
      const application = applicationOf(world, context.params.project_id, context.params['application.id']);
      const body = bodyOf(context);
      if (body.id !== undefined && body.id !== '' && body.id !== application.id) throw new ApiError(GrpcCode.invalidArgument, 'the body names another application than the path');
      for (const field of UPDATABLE) {
        if (!(field in body)) continue;
        const value = body[field];
        if (field === 'environment') application.environment = parseEnvironment(value);
        else if (field === 'subdomain') application.subdomain = checkSubdomain(world, value, application.id);
        else if (field === 'name') application.name = requireText(body, 'name', 'application name');
        else if (field === 'script') application.script = requireText(body, 'script', 'application script');
        else if (field === 'bypass_authentication') application.fields[field] = checkBypass(world, body);
        else application.fields[field] = value;
      }
      checkResources(application.fields);
      application.fields.updated_at = now(world.clock);
      return renderApplication(world, application);
    },

    StopApplication: async ({ params }) => {
      const application = applicationOf(world, params.project_id, params.application_id);
      void stopApplication(world, application);
      return renderApplication(world, application);
    },

    RestartApplication: async ({ params }) => {
      const application = applicationOf(world, params.project_id, params.application_id);
      void stopApplication(world, application);
      startApplication(world, projectOf(world, application.projectId), application);
      return renderApplication(world, application);
    },

    DeleteApplication: async ({ params }) => {
      const application = applicationOf(world, params.project_id, params.application_id);
      await stopApplication(world, application);
      world.store.applications.delete(application.id);
      return {};
    },
  };
}

/** Begins a start: STARTING now; the process is launched in turn after any stop still under way. */
function startApplication(world: World, project: StoredProject, application: StoredApplication): void {
  application.generation += 1;
  const generation = application.generation;
  application.status = 'APPLICATION_STARTING';
  Object.assign(application.fields, { starting_at: now(world.clock), running_at: null, stopped_at: null });
  if (world.faults.failsToStart(application.name)) {
    application.status = 'APPLICATION_FAILED';
    application.fields.stopped_at = now(world.clock);
    logLine(application, 'the engine failed to start (fault injected by the test)');
    return;
  }
  void enqueue(application, async () => {
    if (application.generation !== generation) return;
    const port = await findFreePort();
    const engineId = newEngineId();
    const env = engineEnvironment(
      { projectId: project.id, projectName: project.name, projectDirectory: project.directory, domain: world.domain, apiUrl: world.url, apiKey: world.apiKey, engineId },
      project.environment,
      application.environment,
      { CDSW_APP_PORT: String(port) },
    );
    logLine(application, `starting engine ${engineId}: ${world.python} ${application.script} (CDSW_APP_PORT=${port})`);
    let workload: Workload;
    try {
      workload = await Workload.start({ command: world.python, args: [application.script], cwd: project.directory, env, logPath: application.logPath });
    } catch (error) {
      logLine(application, `cannot start: ${(error as Error).message}`);
      if (application.generation === generation) setFinished(world, application, 'APPLICATION_FAILED');
      return;
    }
    Object.assign(application, { workload, port, engineId });
    void workload.exited.then((exit) => {
      if (application.generation !== generation) return; // Stopped on purpose.
      logLine(application, `engine ${engineId} exited with ${exit.code ?? exit.signal}`);
      setFinished(world, application, exit.code === 0 && application.status === 'APPLICATION_RUNNING' ? 'APPLICATION_STOPPED' : 'APPLICATION_FAILED');
      // CML tears the engine's pod down: children the script left behind go with it.
      void enqueue(application, async () => {
        if (application.workload === workload) application.workload = undefined;
        await workload.stop(world.stopGraceMs);
      });
    });
    void workload.waitUntilListening(port, world.closing).then((listening) => {
      if (listening && application.generation === generation && application.status === 'APPLICATION_STARTING') {
        application.status = 'APPLICATION_RUNNING';
        application.fields.running_at = now(world.clock);
      }
    });
  });
}

/** Begins a stop (STOPPING now) and resolves once the process group is gone and the status is STOPPED. */
export function stopApplication(world: World, application: StoredApplication): Promise<void> {
  application.generation += 1;
  const generation = application.generation;
  if (application.status === 'APPLICATION_STARTING' || application.status === 'APPLICATION_RUNNING') application.status = 'APPLICATION_STOPPING';
  return enqueue(application, async () => {
    const workload = application.workload;
    application.workload = undefined;
    if (workload !== undefined) await workload.stop(world.stopGraceMs);
    // A restart issued meanwhile owns the status now.
    if (application.generation === generation) setFinished(world, application, 'APPLICATION_STOPPED');
  });
}

function setFinished(world: World, application: StoredApplication, status: 'APPLICATION_STOPPED' | 'APPLICATION_FAILED'): void {
  application.status = status;
  application.fields.stopped_at = now(world.clock);
}

function applicationOf(world: World, projectId: string | undefined, applicationId: string | undefined): StoredApplication {
  const project = projectOf(world, projectId);
  const application = world.store.applications.get(applicationId ?? '');
  if (application === undefined || application.projectId !== project.id) throw new ApiError(GrpcCode.notFound, `application ${JSON.stringify(applicationId)} not found`);
  return application;
}

function checkSubdomain(world: World, value: unknown, ownId: string | undefined): string {
  if (typeof value !== 'string' || value === '' || value.length > SUBDOMAIN_MAX || !SUBDOMAIN.test(value)) {
    throw new ApiError(GrpcCode.invalidArgument, 'Problem with field Subdomain: invalid pattern');
  }
  // A subdomain is a DNS name under the workspace domain: unique across every project.
  const taken = [...world.store.applications.values()].some((application) => application.subdomain === value && application.id !== ownId);
  if (taken) throw new ApiError(GrpcCode.alreadyExists, `subdomain ${JSON.stringify(value)} is already in use`);
  return value;
}

/**
 * `bypass_authentication: true` where the administrator has not allowed unauthenticated applications: refused, stored
 * false, or stored true (and not honoured by the ingress), as the emulator's ingress settings say. Mutates the body's field.
 */
function checkBypass(world: World, body: Record<string, unknown>): boolean {
  const asked = body.bypass_authentication === true;
  const settings = world.ingress();
  if (!asked || settings.allowUnauthenticatedApps) return asked;
  if (settings.refusedBypass === 'reject') throw new ApiError(GrpcCode.permissionDenied, 'unauthenticated access to applications is not allowed in this workspace');
  if (settings.refusedBypass === 'store-false') body.bypass_authentication = false;
  return body.bypass_authentication === true;
}

function checkResources(fields: Record<string, unknown>): void {
  for (const field of ['cpu', 'memory']) {
    const value = fields[field];
    if (value !== undefined && !(Number(value) > 0)) throw new ApiError(GrpcCode.invalidArgument, `${field} must be positive`);
  }
  if (fields.nvidia_gpu !== undefined && Number(fields.nvidia_gpu) < 0) throw new ApiError(GrpcCode.invalidArgument, 'nvidia_gpu must not be negative');
}

/** UpdateApplication carries the environment as the response type does: a JSON-encoded object of strings. */
function parseEnvironment(value: unknown): Record<string, string> {
  if (typeof value !== 'string') throw new ApiError(GrpcCode.invalidArgument, 'environment must be a JSON-encoded string');
  if (value.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new ApiError(GrpcCode.invalidArgument, `environment is not valid JSON: ${value}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((inner) => typeof inner !== 'string')) {
    throw new ApiError(GrpcCode.invalidArgument, 'environment must be a JSON object of strings');
  }
  return parsed as Record<string, string>;
}

/** The create fields kept as they are (the rest have their own place in the record). */
function withoutRequestOnly(body: Record<string, unknown>): Record<string, unknown> {
  const { project_id: _projectId, name: _name, subdomain: _subdomain, script: _script, environment: _environment, ...rest } = body;
  return rest;
}

function renderApplication(world: World, application: StoredApplication): Record<string, unknown> {
  return render(world, 'Application', {
    ...application.fields,
    id: application.id,
    name: application.name,
    subdomain: application.subdomain,
    script: application.script,
    environment: application.environment,
    status: application.status,
    creator: EMULATOR_USER,
  });
}
