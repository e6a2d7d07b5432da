// What the emulated workspace holds: projects, applications, jobs and their runs, by id.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../src/time/clock.js';
import type { Workload } from './workload.js';

/** The one user of the emulated workspace: owner and creator of everything. */
export const EMULATOR_USER = { username: 'emulator', name: 'CML Emulator', email: 'emulator@example.com' };

export interface StoredProject {
  id: string;
  name: string;
  /** What the project's engines see as /home/cdsw. */
  directory: string;
  environment: Record<string, string>;
  /** Runtime projects need `runtime_identifier` on applications and jobs and refuse `kernel`. */
  usesRuntimes: boolean;
  /** Everything else the API echoes, by swagger field name. */
  fields: Record<string, unknown>;
}

/** A process an application or a run has, and the order its starts and stops happen in. */
export interface Engine {
  /** Bumped by every start and stop, so callbacks of an older start know they are stale. */
  generation: number;
  /** Starts and stops run one after the other. */
  lifecycle: Promise<void>;
  workload: Workload | undefined;
  engineId: string | undefined;
  /** stdout and stderr of every start, appended. */
  logPath: string;
}

export interface StoredApplication extends Engine {
  id: string;
  projectId: string;
  name: string;
  subdomain: string;
  script: string;
  environment: Record<string, string>;
  status: string;
  /** CDSW_APP_PORT of the current start. */
  port: number | undefined;
  fields: Record<string, unknown>;
}

export interface StoredJob {
  id: string;
  projectId: string;
  name: string;
  script: string;
  arguments: string;
  environment: Record<string, string>;
  fields: Record<string, unknown>;
}

export interface StoredJobRun extends Engine {
  id: string;
  projectId: string;
  jobId: string;
  status: string;
  arguments: string;
  environment: Record<string, string>;
  fields: Record<string, unknown>;
}

export class Store {
  readonly projects = new Map<string, StoredProject>();
  readonly applications = new Map<string, StoredApplication>();
  readonly jobs = new Map<string, StoredJob>();
  readonly runs = new Map<string, StoredJobRun>();
}

/** An id like CML's: `a1b2-c3d4-e5f6-g7h8`. */
export function newId(): string {
  return (randomBytes(8).toString('hex').match(/.{4}/g) ?? []).join('-');
}

/** An engine id like CML's: 16 lowercase letters and digits. */
export function newEngineId(): string {
  return randomBytes(8).toString('hex');
}

/** The emulated workspace's time: the system's, or a test's own clock. */
export function now(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}
