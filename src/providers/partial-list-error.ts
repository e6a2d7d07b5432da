// A provider's list that is missing nodes it knows exist but cannot read: the rest, plus what could not be read, by name.
import { RayfleetError } from '../errors.js';
import type { Instance } from './node-provider.js';

export interface UnreadableNode {
  name: string;
  /** Why it cannot be read, and where it is (a record file). */
  reason: string;
}

/**
 * Thrown by `list` when some nodes cannot be read: a caller that does not know this error fails safe (it cannot
 * know the cluster), one that does (`down`) acts on `instances`, which are whole and stoppable, and names the rest.
 */
/**
 * The nodes of a list to act on, when the list could not read them all but still accounts for every one: each node it
 * could not read is listed `unknown` (its name, group and room known, its state not). A list that lost nodes it
 * cannot name throws on, so nothing is done it cannot account for.
 */
export async function listAccountingForAll(list: () => Promise<Instance[]>): Promise<{ instances: Instance[]; partial: PartialListError | undefined }> {
  try {
    return { instances: await list(), partial: undefined };
  } catch (error) {
    if (!(error instanceof PartialListError)) throw error;
    const unknown = new Set(error.instances.filter((instance) => instance.state === 'unknown').map((instance) => instance.name));
    if (!error.unreadable.every((node) => unknown.has(node.name))) throw error;
    return { instances: error.instances, partial: error };
  }
}

export class PartialListError extends RayfleetError {
  constructor(
    readonly instances: Instance[],
    readonly unreadable: UnreadableNode[],
  ) {
    super('NODE_RECORD_UNREADABLE', `cannot read ${unreadable.length === 1 ? 'the node' : 'the nodes'} ${unreadable.map((node) => node.name).join(', ')}`, {
      details: unreadable.map((node) => `${node.name}: ${node.reason}`).join('\n'),
    });
  }
}
