// From what the CML API sends to what the client hands out: `environment` decoded from its JSON string, `id` checked.
import { RayfleetError } from '../../../errors.js';
import type { Application, ApplicationWire, Environment, Job, JobRun, JobRunWire, JobWire, Project, ProjectWire } from './cml-types.js';

/** Responses carry `environment` as a JSON-encoded object; an empty or absent one is no variables. */
export function decodeEnvironment(text: string | undefined, where: string): Environment {
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RayfleetError('CAI_FAILED', `the CML API sent ${where} an environment that is not JSON`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RayfleetError('CAI_FAILED', `the CML API sent ${where} an environment that is not a JSON object`);
  }
  return Object.fromEntries(Object.entries(parsed).map(([name, value]) => [name, typeof value === 'string' ? value : JSON.stringify(value)]));
}

/** Update bodies are the response types, so they carry `environment` as a JSON string too. */
export function encodeEnvironment(environment: Environment): string {
  return JSON.stringify(environment);
}

function withIdAndEnvironment<Wire extends { id?: string; environment?: string }>(wire: Wire, kind: string): Omit<Wire, 'id' | 'environment'> & { id: string; environment: Environment } {
  const { id, environment, ...rest } = wire;
  if (typeof id !== 'string' || id === '') throw new RayfleetError('CAI_FAILED', `the CML API sent a ${kind} without an id`);
  return { ...rest, id, environment: decodeEnvironment(environment, `${kind} ${id}`) };
}

export function decodeProject(wire: ProjectWire): Project {
  return withIdAndEnvironment(wire, 'project');
}

export function decodeApplication(wire: ApplicationWire): Application {
  // The swagger's default for an absent enum.
  return { ...withIdAndEnvironment(wire, 'application'), status: wire.status ?? 'APPLICATION_UNKNOWN' };
}

export function decodeJob(wire: JobWire): Job {
  return withIdAndEnvironment(wire, 'job');
}

export function decodeJobRun(wire: JobRunWire): JobRun {
  return { ...withIdAndEnvironment(wire, 'job run'), status: wire.status ?? 'ENGINE_SCHEDULING' };
}
