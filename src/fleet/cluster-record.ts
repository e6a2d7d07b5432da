// The record `up` leaves for every later command: the spec the cluster was started with and the runtime it runs.
import { readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { RayfleetError } from '../errors.js';
import type { ClusterSpec } from '../spec/schema.js';
import type { Runtime } from '../ray/runtime.js';

const clusterRecordSchema = z.object({
  v: z.literal(1),
  createdAt: z.string(),
  // Written by `up` from a validated spec; read back as it was written.
  spec: z.custom<ClusterSpec>((value) => typeof value === 'object' && value !== null && 'name' in value),
  // Absent for backends whose nodes bring their own Ray (containers, applications).
  runtime: z
    .object({
      python: z.string(),
      pythonVersion: z.string(),
      ray: z.string(),
      rayVersion: z.string(),
      venv: z.string().optional(),
    })
    .optional(),
});

export type ClusterRecord = z.infer<typeof clusterRecordSchema>;

export async function readClusterRecord(filePath: string): Promise<ClusterRecord | undefined> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = clusterRecordSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new RayfleetError('PROVIDER_FAILED', `${filePath} is damaged: ${parsed.error.message}`);
  return parsed.data;
}

export async function writeClusterRecord(filePath: string, spec: ClusterSpec, runtime: Runtime | undefined): Promise<void> {
  const record: ClusterRecord = {
    v: 1,
    createdAt: new Date().toISOString(),
    spec,
    ...(runtime === undefined ? {} : { runtime }),
  };
  await mkdir(path.dirname(filePath), { recursive: true });
  await writeFile(`${filePath}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${filePath}.tmp`, filePath);
}
