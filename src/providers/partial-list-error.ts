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
