// What a node of a spec's shape asks of its provider: the spec's head or group shape as NodeResources.
import type { NodeShape } from '../spec/schema.js';
import type { NodeResources } from './node-provider.js';

export function nodeResourcesOf(shape: NodeShape): NodeResources {
  return { cpus: shape.cpus, gpus: shape.gpus, memoryBytes: shape.memoryBytes, objectStoreMemoryBytes: shape.objectStoreMemoryBytes, custom: shape.resources };
}
