// The record `up` leaves for every later command: the spec the cluster runs (as declared, with live changes), the ports
// chosen for it, and the runtime its local nodes run.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { RayfleetError } from '../errors.js';
import { backendOf } from '../providers/backend-of.js';
import { writeJsonAtomic } from '../fs/write-json-atomic.js';
import type { Runtime } from '../ray/runtime.js';
import { DEFAULT_HEAD_PORTS, type ClusterSpec, type HeadPorts } from '../spec/schema.js';

/** Where the head listens, and the offset a Docker head's published ports carry. */
export interface ClusterPorts extends HeadPorts {
  portOffset: number;
}

const runtimeSchema = z.object({
  python: z.string(),
  pythonVersion: z.string(),
  ray: z.string(),
  rayVersion: z.string(),
  venv: z.string().optional(),
});

// Written by `up` from a validated spec; read back as it was written, with what older versions did not write filled in.
const specSchema = z
  .custom<ClusterSpec>((value) => typeof value === 'object' && value !== null && 'name' in value && 'head' in value)
  .transform((spec): ClusterSpec => ({ ...spec, dashboard: spec.dashboard ?? { enabled: true, port: 8266 } }));

const portsSchema = z.object({
  gcsPort: z.number().int(),
  dashboardPort: z.number().int(),
  clientPort: z.number().int(),
  servePort: z.number().int(),
  portOffset: z.number().int(),
});

const recordSchema = z.discriminatedUnion('v', [
  z.object({ v: z.literal(2), createdAt: z.string(), clusterId: z.string().optional(), spec: specSchema, ports: portsSchema, runtime: runtimeSchema.optional() }),
  // Before ports were chosen at `up` (rayfleet 0.1): the spec carried every port, defaults filled in.
  z.object({ v: z.literal(1), createdAt: z.string(), spec: specSchema, runtime: runtimeSchema.optional() }),
]);

export interface ClusterRecord {
  createdAt: string;
  /**
   * This cluster's own id, made at `up` and carried in every node's environment (CLUSTER_ID_VARIABLE): node names repeat
   * across homes and machines, the id does not. Records written before it have none, and their nodes carry none.
   */
  clusterId?: string | undefined;
  spec: ClusterSpec;
  ports: ClusterPorts;
  runtime?: Runtime | undefined;
}

/** The record, or undefined when the cluster is not up; a record that cannot be read is CLUSTER_RECORD_DAMAGED. */
export async function readClusterRecord(filePath: string): Promise<ClusterRecord | undefined> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw damaged(filePath, error);
  }
  let parsed: z.infer<typeof recordSchema>;
  try {
    parsed = recordSchema.parse(JSON.parse(text));
  } catch (error) {
    throw damaged(filePath, error);
  }
  if (parsed.v === 2) return { createdAt: parsed.createdAt, clusterId: parsed.clusterId, spec: parsed.spec, ports: parsed.ports, runtime: parsed.runtime };
  return { ...provisionalRecord(parsed.spec), createdAt: parsed.createdAt, runtime: parsed.runtime };
}

/** The ports a spec declares, the old defaults for the rest: a record from before `up` chose them, or for `down --force`. */
export function provisionalRecord(spec: ClusterSpec): ClusterRecord {
  const { head } = spec;
  const policy = backendOf(spec.provider).portPolicy;
  const declared = { gcsPort: head.gcsPort, dashboardPort: head.dashboardPort, clientPort: head.clientPort, servePort: head.servePort };
  const ports: HeadPorts = { ...DEFAULT_HEAD_PORTS, ...Object.fromEntries(Object.entries(declared).filter(([, port]) => port !== undefined)) };
  return { createdAt: new Date().toISOString(), spec, ports: { ...ports, portOffset: policy.kind === 'published-with-offset' ? (policy.offset ?? 0) : 0 } };
}

export async function writeClusterRecord(filePath: string, record: ClusterRecord): Promise<void> {
  await writeJsonAtomic(filePath, { v: 2, ...record });
}

function damaged(filePath: string, cause: unknown): RayfleetError {
  return new RayfleetError('CLUSTER_RECORD_DAMAGED', `${filePath} cannot be read: the cluster's saved spec is damaged`, {
    cause,
    details: '`rayfleet down --force` stops every node the provider lists for this cluster (from rayfleet.yaml, env and flags) and removes the record.',
  });
}
