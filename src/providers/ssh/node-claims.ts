// Which node runs on which host of an SSH pool: a claim per node name, kept where rayfleet runs, so no two hosts make one name.
import { randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { RayfleetError } from '../../errors.js';
import { currentIdentity, isSameProcess } from '../../process/process-identity.js';
import { parseJsonOrUndefined } from '../../fs/json-text.js';

const claimSchema = z.object({
  name: z.string(),
  role: z.enum(['head', 'worker']),
  group: z.string(),
  index: z.number(),
  /** The host's address as the spec lists it. */
  host: z.string(),
  createdAt: z.string(),
  resources: z.object({
    cpus: z.number(),
    gpus: z.number(),
    memoryBytes: z.number().optional(),
    objectStoreMemoryBytes: z.number().optional(),
    custom: z.record(z.string(), z.number()),
  }),
  /** Who claimed the name: while it lives and the host has no record yet, the launch is in progress. */
  launcher: z.object({ pid: z.number(), startTicks: z.number(), bootId: z.string() }).optional(),
});
export type NodeClaim = z.infer<typeof claimSchema>;

/**
 * The claims of one cluster, one file each under `dir`. A claim is made by hard-linking a complete file into place, so
 * it fails when the name is taken and a reader never sees half of one; launches claim under the cluster's launch lock.
 */
export class NodeClaims {
  constructor(private readonly dir: string) {}

  private file(name: string): string {
    return path.join(this.dir, `${name}.json`);
  }

  /** Claims the name for `host`; false when it is taken. */
  async claim(claim: Omit<NodeClaim, 'launcher'>): Promise<boolean> {
    await mkdir(this.dir, { recursive: true });
    const identity = currentIdentity(process.pid);
    const draft = `${this.file(claim.name)}.${randomUUID()}.claim`;
    await writeFile(draft, JSON.stringify({ ...claim, ...(identity === undefined ? {} : { launcher: identity }) }));
    try {
      await link(draft, this.file(claim.name));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(draft, { force: true });
    }
  }

  async read(name: string): Promise<NodeClaim | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new RayfleetError('NODE_RECORD_UNREADABLE', `cannot read the claim of ${name} (${this.file(name)})`, { cause: error });
    }
    const parsed = claimSchema.safeParse(parseJsonOrUndefined(text));
    if (!parsed.success) throw new RayfleetError('NODE_RECORD_UNREADABLE', `the claim of ${name} (${this.file(name)}) is unreadable`);
    return parsed.data;
  }

  /** Every claim; the names of files that cannot be read, with why. */
  async all(): Promise<{ claims: NodeClaim[]; unreadable: { name: string; reason: string }[] }> {
    let files: string[];
    try {
      files = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { claims: [], unreadable: [] };
      throw new RayfleetError('PROVIDER_FAILED', `cannot read ${this.dir}`, { cause: error });
    }
    const claims: NodeClaim[] = [];
    const unreadable: { name: string; reason: string }[] = [];
    for (const name of files.filter((file) => file.endsWith('.json')).map((file) => file.slice(0, -'.json'.length))) {
      try {
        const claim = await this.read(name);
        if (claim !== undefined) claims.push(claim);
      } catch (error) {
        unreadable.push({ name, reason: (error as Error).message });
      }
    }
    return { claims, unreadable };
  }

  async release(name: string): Promise<void> {
    await rm(this.file(name), { force: true });
  }
}

/** A claim whose launcher still runs here: the host may not have its record yet. */
export function isLaunchInProgress(claim: NodeClaim): boolean {
  return claim.launcher !== undefined && isSameProcess(claim.launcher);
}

