// GetClusterResourceState's reply read straight from protobuf's wire format into rayfleet's terms: one pass, no generic message objects in between.
import type { ClusterResourceState, GangRequest, PendingRequest, PlacementConstraint, RayNodeState, RayNodeStatus, ResourceRequest, ResourceShape } from './cluster-resource-state.js';

// The field numbers of proto/autoscaler.proto (Ray's autoscaler.proto). What this reader gives is what
// toClusterResourceState gives for proto-loader's decoding of the same bytes (a property test holds them equal); it
// exists because that decoding builds every message twice (a protobufjs message, then a plain object with defaults),
// which at 10,000 nodes was most of a watcher tick.

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;
const NODE_STATUSES: Record<number, RayNodeStatus> = { 1: 'RUNNING', 2: 'DEAD', 3: 'IDLE', 4: 'DRAINING' };
const TWO_32 = 2 ** 32;
const MAX_KEYS = 4_096;

/** A tag: field number and wire type in one varint, as the switch statements below match them. */
const tag = (field: number, wireType: number): number => (field << 3) | wireType;
const LENGTH_1 = tag(1, WIRE_LENGTH);
const LENGTH_2 = tag(2, WIRE_LENGTH);
const LENGTH_3 = tag(3, WIRE_LENGTH);
const LENGTH_4 = tag(4, WIRE_LENGTH);
const LENGTH_5 = tag(5, WIRE_LENGTH);
const LENGTH_6 = tag(6, WIRE_LENGTH);
const LENGTH_7 = tag(7, WIRE_LENGTH);
const LENGTH_10 = tag(10, WIRE_LENGTH);
const LENGTH_12 = tag(12, WIRE_LENGTH);
const LENGTH_13 = tag(13, WIRE_LENGTH);
const VARINT_1 = tag(1, WIRE_VARINT);
const VARINT_2 = tag(2, WIRE_VARINT);
const VARINT_8 = tag(8, WIRE_VARINT);
const VARINT_9 = tag(9, WIRE_VARINT);
const FIXED64_2 = tag(2, WIRE_FIXED64);

/** One cursor over the whole message; each reader below is given where its message ends. Plain loops and switches, no callbacks: this runs per field of 10,000 nodes. */
class WireReader {
  pos = 0;
  private readonly keys = new Map<number, string>();

  constructor(private readonly bytes: Buffer) {}

  /** A varint as a number: exact up to 2^53, as int64 counts and milliseconds are; negative int64s come out negative. */
  varint(): number {
    const first = this.byte();
    if (first < 0x80) return first;
    let low = first & 0x7f;
    let high = 0;
    let shift = 7;
    let byte: number;
    // The low 28 bits, then the rest: bit operations stay within 32 bits.
    do {
      byte = this.byte();
      if (shift < 28) low |= (byte & 0x7f) << shift;
      else if (shift === 28) {
        low |= (byte & 0x0f) << 28;
        high = (byte & 0x7f) >> 4;
      } else high |= (byte & 0x7f) << (shift - 32);
      shift += 7;
    } while (byte & 0x80 && shift < 70);
    const value = (high >>> 0) * TWO_32 + (low >>> 0);
    return high & 0x80000000 ? value - 2 ** 64 : value;
  }

  double(): number {
    this.need(8);
    const value = this.bytes.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** Where a length-delimited field ends; the cursor is at its first byte. */
  end(): number {
    const length = this.varint();
    this.need(length);
    return this.pos + length;
  }

  /** A string field; `same` itself when the field holds exactly its (ASCII) text, so a repeated value is not held twice. */
  string(same?: string): string {
    const end = this.end();
    const start = this.pos;
    this.pos = end;
    if (same !== undefined && same.length === end - start && sameAscii(same, this.bytes, start)) return same;
    // Most strings here are ASCII (node names, ids, addresses): latin1 copies those without decoding.
    let ascii = true;
    for (let at = start; at < end && ascii; at += 1) ascii = (this.bytes[at] as number) < 0x80;
    return this.bytes.toString(ascii ? 'latin1' : 'utf8', start, end);
  }

  /**
   * A map's key. Keys repeat across nodes (CPU, memory, object_store_memory, GPU, label names): the same string object
   * comes back for the same bytes, hashed once, where a new string per node made every insertion hash it afresh.
   */
  key(): string {
    const end = this.end();
    const start = this.pos;
    this.pos = end;
    let hash = 0x811c9dc5;
    let ascii = true;
    for (let at = start; at < end; at += 1) {
      const code = this.bytes[at] as number;
      ascii &&= code < 0x80;
      hash = Math.imul(hash ^ code, 0x01000193);
    }
    const known = this.keys.get(hash);
    if (known !== undefined && known.length === end - start && ascii && sameAscii(known, this.bytes, start)) return known;
    const text = this.bytes.toString(ascii ? 'latin1' : 'utf8', start, end);
    if (ascii) {
      // Bounded: unique keys (every node's `node:<ip>`) would otherwise fill it.
      if (this.keys.size >= MAX_KEYS) this.keys.clear();
      this.keys.set(hash, text);
    }
    return text;
  }

  hex(): string {
    const end = this.end();
    const text = this.bytes.toString('hex', this.pos, end);
    this.pos = end;
    return text;
  }

  skip(tagValue: number): void {
    const wireType = tagValue & 7;
    if (wireType === WIRE_VARINT) this.varint();
    else if (wireType === WIRE_FIXED64) this.advance(8);
    else if (wireType === WIRE_LENGTH) this.pos = this.end();
    else if (wireType === WIRE_FIXED32) this.advance(4);
    else throw new Error(`unsupported protobuf wire type ${wireType} at byte ${this.pos}`);
  }

  /** The cursor must land exactly on a message's end. */
  at(end: number): void {
    if (this.pos !== end) throw new Error(`malformed protobuf message: a field runs past its message's end at byte ${end}`);
  }

  private byte(): number {
    if (this.pos >= this.bytes.length) throw new Error(`truncated protobuf message: a byte wanted at byte ${this.pos} of ${this.bytes.length}`);
    return this.bytes[this.pos++] as number;
  }

  private advance(count: number): void {
    this.need(count);
    this.pos += count;
  }

  private need(count: number): void {
    if (this.pos + count > this.bytes.length) throw new Error(`truncated protobuf message: ${count} more bytes wanted at byte ${this.pos} of ${this.bytes.length}`);
  }
}

/**
 * A map's object. Without a prototype V8 keeps it as a hash table from the start: every node's resources hold a key of
 * their own (`node:<ip>`), and building 20,000 objects that each end on a new key costs a hidden class each (measured:
 * 2.5 times the time of these). Read like any object; spread or JSON as usual.
 */
function keyed<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function sameAscii(text: string, bytes: Buffer, start: number): boolean {
  for (let at = 0; at < text.length; at += 1) if (text.charCodeAt(at) !== bytes[start + at]) return false;
  return true;
}

/** One entry of a `map<string, double>` into `into`. */
function numberEntry(reader: WireReader, into: ResourceShape): void {
  const end = reader.end();
  let key = '';
  let value = 0;
  while (reader.pos < end) {
    const next = reader.varint();
    if (next === LENGTH_1) key = reader.key();
    else if (next === FIXED64_2) value = reader.double();
    else reader.skip(next);
  }
  reader.at(end);
  into[key] = value;
}

/**
 * One entry of a node's labels into `into`, a plain object: every node has the same label names (`ray.io/node_id`),
 * so all of them share one hidden class, a tenth of a hash table's size. A value equal to the node's id (that is
 * what `ray.io/node_id` holds) is the id's string. `__proto__` is defined as an own key, as a hash table would hold it.
 */
function labelEntry(reader: WireReader, into: Record<string, string>, nodeId: string): void {
  const end = reader.end();
  let key = '';
  let value = '';
  while (reader.pos < end) {
    const next = reader.varint();
    if (next === LENGTH_1) key = reader.key();
    else if (next === LENGTH_2) value = reader.string(nodeId);
    else reader.skip(next);
  }
  reader.at(end);
  if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
}

function nodeState(reader: WireReader): RayNodeState {
  const end = reader.end();
  const node: RayNodeState = { nodeId: '', instanceId: '', nodeTypeName: '', status: 'UNSPECIFIED', idleMs: 0, totalResources: keyed(), availableResources: keyed(), ipAddress: '', activity: [], labels: {} };
  while (reader.pos < end) {
    const next = reader.varint();
    switch (next) {
      case LENGTH_1:
        node.nodeId = reader.hex();
        break;
      case LENGTH_2:
        node.instanceId = reader.string();
        break;
      case LENGTH_3:
        node.nodeTypeName = reader.string();
        break;
      case LENGTH_4:
        numberEntry(reader, node.availableResources);
        break;
      case LENGTH_5:
        numberEntry(reader, node.totalResources);
        break;
      case VARINT_8:
        node.status = NODE_STATUSES[reader.varint()] ?? 'UNSPECIFIED';
        break;
      case VARINT_9:
        node.idleMs = reader.varint();
        break;
      case LENGTH_10:
        node.ipAddress = reader.string();
        break;
      case LENGTH_12:
        node.activity.push(reader.string());
        break;
      case LENGTH_13:
        labelEntry(reader, node.labels, node.nodeId);
        break;
      default:
        reader.skip(next);
    }
  }
  reader.at(end);
  return node;
}

function labelPair(reader: WireReader): { label: string; value: string } {
  const end = reader.end();
  const pair = { label: '', value: '' };
  while (reader.pos < end) {
    const next = reader.varint();
    if (next === LENGTH_1) pair.label = reader.string();
    else if (next === LENGTH_2) pair.value = reader.string();
    else reader.skip(next);
  }
  reader.at(end);
  return pair;
}

function placementConstraint(reader: WireReader): PlacementConstraint {
  const end = reader.end();
  const constraint: PlacementConstraint = {};
  while (reader.pos < end) {
    const next = reader.varint();
    if (next === LENGTH_1) constraint.antiAffinity = labelPair(reader);
    else if (next === LENGTH_2) constraint.affinity = labelPair(reader);
    else reader.skip(next);
  }
  reader.at(end);
  return constraint;
}

function resourceRequest(reader: WireReader): ResourceRequest {
  const end = reader.end();
  const request: ResourceRequest = { shape: {}, constraints: [] };
  while (reader.pos < end) {
    const next = reader.varint();
    if (next === LENGTH_1) numberEntry(reader, request.shape);
    else if (next === LENGTH_2) request.constraints.push(placementConstraint(reader));
    else reader.skip(next);
  }
  reader.at(end);
  return request;
}

function requestByCount(reader: WireReader): PendingRequest {
  const end = reader.end();
  let request: ResourceRequest = { shape: {}, constraints: [] };
  let count = 0;
  while (reader.pos < end) {
    const next = reader.varint();
    if (next === LENGTH_1) request = resourceRequest(reader);
    else if (next === VARINT_2) count = reader.varint();
    else reader.skip(next);
  }
  reader.at(end);
  return { ...request, count };
}

/** A repeated message field of one kind, as a whole message of its own (BundleSelector, ClusterResourceConstraint). */
function listOf<T>(reader: WireReader, read: (reader: WireReader) => T): T[] {
  const end = reader.end();
  const items: T[] = [];
  while (reader.pos < end) {
    const next = reader.varint();
    if (next === LENGTH_1) items.push(read(reader));
    else reader.skip(next);
  }
  reader.at(end);
  return items;
}

function gangRequest(reader: WireReader): GangRequest {
  const end = reader.end();
  const requests: ResourceRequest[] = [];
  let details = '';
  let selected: ResourceRequest[] | undefined;
  while (reader.pos < end) {
    const next = reader.varint();
    if (next === LENGTH_1) requests.push(resourceRequest(reader));
    else if (next === LENGTH_2) details = reader.string();
    else if (next === LENGTH_3) {
      const bundle = listOf(reader, resourceRequest);
      // Only the first selector counts, as in toClusterResourceState.
      selected ??= bundle;
    } else reader.skip(next);
  }
  reader.at(end);
  return { details, bundles: selected !== undefined && selected.length > 0 ? selected : requests };
}

function clusterResourceState(reader: WireReader, known: KnownNodes | undefined): ClusterResourceState {
  const end = reader.end();
  const state: ClusterResourceState = { version: 0, sessionName: '', nodeStates: [], pendingRequests: [], pendingGangs: [], constraints: [] };
  while (reader.pos < end) {
    const next = reader.varint();
    switch (next) {
      case VARINT_1:
        state.version = reader.varint();
        break;
      case LENGTH_3:
        state.nodeStates.push(known === undefined ? nodeState(reader) : known.read(reader));
        break;
      case LENGTH_4:
        state.pendingRequests.push(requestByCount(reader));
        break;
      case LENGTH_5: {
        const gang = gangRequest(reader);
        // Ray appends a gang entry before it checks the group's state: an entry without bundles is no demand.
        if (gang.bundles.length > 0) state.pendingGangs.push(gang);
        break;
      }
      case LENGTH_6:
        state.constraints.push(listOf(reader, requestByCount));
        break;
      case LENGTH_7:
        state.sessionName = reader.string();
        break;
      default:
        reader.skip(next);
    }
  }
  reader.at(end);
  return state;
}

function decodeReply(bytes: Buffer, known: KnownNodes | undefined): ClusterResourceState {
  const reader = new WireReader(bytes);
  let state: ClusterResourceState = { version: 0, sessionName: '', nodeStates: [], pendingRequests: [], pendingGangs: [], constraints: [] };
  while (reader.pos < bytes.length) {
    const next = reader.varint();
    // Given twice, the last one stands, as protobufjs reads it.
    if (next === LENGTH_1) state = clusterResourceState(reader, known);
    else reader.skip(next);
  }
  return state;
}

const asBuffer = (bytes: Uint8Array): Buffer => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

/** The state in a GetClusterResourceStateReply's bytes; an empty state when the reply carries none. Throws on a malformed message. */
export function decodeClusterResourceStateReply(bytes: Uint8Array): ClusterResourceState {
  return decodeReply(asBuffer(bytes), undefined);
}

/**
 * Reads one GCS's replies one after another, as the watcher asks for them every tick. A node whose bytes are the same as
 * in the reply before, but for its idle time (which Ray's GCS counts up on every call), comes back as the object read
 * then: at 10,000 nodes, building every node's maps afresh was most of a tick and most of its garbage, and from one
 * tick to the next almost every node is as it was. The node states it gives are therefore shared between replies:
 * read them, never change them. What it gives is what decodeClusterResourceStateReply gives (a property test holds them
 * equal over sequences of replies).
 */
export class ClusterResourceStateDecoder {
  private readonly known = new KnownNodes();

  decode(bytes: Uint8Array): ClusterResourceState {
    const buffer = asBuffer(bytes);
    try {
      const state = decodeReply(buffer, this.known.begin(buffer));
      this.known.end();
      return state;
    } catch (error) {
      // Half-read: offsets into this reply and the one before are mixed now. The next reply is read afresh.
      this.known.forget();
      throw error;
    }
  }
}

/** A node state as read, and where its bytes were in the reply it was last seen in. */
interface KnownNode {
  state: RayNodeState;
  start: number;
  /** The idle-time field's bytes, tag included; both at `end` when the node has none (an idle time of 0 is not sent). */
  idleStart: number;
  idleEnd: number;
  end: number;
  seenIn: number;
}

/** The nodes of the last reply, by a hash of their node id. */
class KnownNodes {
  private readonly nodes = new Map<number, KnownNode>();
  /**
   * The last reply's bytes, copied into a buffer of the decoder's own that is reused. Keeping gRPC's buffer instead
   * held it past young-generation collections: 3.6 MB at 10,000 nodes each tick, freed only by a full collection,
   * which let dead replies pile up to tens of megabytes. Only its first bytes hold the last reply: the known nodes'
   * offsets say where.
   */
  private last: Buffer | undefined;
  private current: Buffer | undefined;
  private generation = 0;
  // What skim() found in the node it read last: one object, not one per node.
  private readonly found = { idHash: 0, idleStart: 0, idleEnd: 0, idleMs: 0, idleFields: 0 };

  begin(bytes: Buffer): this {
    this.current = bytes;
    this.generation += 1;
    return this;
  }

  end(): void {
    const current = this.current as Buffer;
    this.current = undefined;
    if (this.last === undefined || this.last.length < current.length) this.last = Buffer.allocUnsafeSlow(Math.ceil(current.length * 1.25));
    current.copy(this.last);
    // forEach, not for…of: no entry array per node.
    this.nodes.forEach((node, hash) => {
      if (node.seenIn !== this.generation) this.nodes.delete(hash);
    });
  }

  forget(): void {
    this.nodes.clear();
    this.current = undefined;
  }

  /** The node state at the cursor: the one read before if its bytes are unchanged, else read now. */
  read(reader: WireReader): RayNodeState {
    const bytes = this.current as Buffer;
    const at = reader.pos;
    const end = reader.end();
    const start = reader.pos;
    this.skim(reader, end);
    const { idHash, idleStart, idleEnd, idleMs, idleFields } = this.found;
    const known = this.nodes.get(idHash);
    const last = this.last;
    if (
      known !== undefined &&
      last !== undefined &&
      // A node id twice in one reply: its entry already points into this reply.
      known.seenIn !== this.generation &&
      idleFields <= 1 &&
      bytes.compare(last, known.start, known.idleStart, start, idleStart) === 0 &&
      bytes.compare(last, known.idleEnd, known.end, idleEnd, end) === 0
    ) {
      if (known.state.idleMs !== idleMs) known.state = { ...known.state, idleMs };
      known.start = start;
      known.idleStart = idleStart;
      known.idleEnd = idleEnd;
      known.end = end;
      known.seenIn = this.generation;
      return known.state;
    }
    reader.pos = at;
    const state = nodeState(reader);
    if (idleFields <= 1 && (known === undefined || known.seenIn !== this.generation)) {
      this.nodes.set(idHash, { state, start, idleStart, idleEnd, end, seenIn: this.generation });
    }
    return state;
  }

  /** The node id's hash and where the idle time is, from the node's fields' tags alone (nothing is built). */
  private skim(reader: WireReader, end: number): void {
    const found = this.found;
    const bytes = this.current as Buffer;
    found.idHash = 0x811c9dc5;
    found.idleStart = end;
    found.idleEnd = end;
    found.idleMs = 0;
    found.idleFields = 0;
    while (reader.pos < end) {
      const fieldStart = reader.pos;
      const next = reader.varint();
      if (next === LENGTH_1) {
        const idEnd = reader.end();
        let hash = 0x811c9dc5;
        for (let at = reader.pos; at < idEnd; at += 1) hash = Math.imul(hash ^ (bytes[at] as number), 0x01000193);
        found.idHash = hash;
        reader.pos = idEnd;
      } else if (next === VARINT_9) {
        found.idleMs = reader.varint();
        found.idleStart = fieldStart;
        found.idleEnd = reader.pos;
        found.idleFields += 1;
      } else reader.skip(next);
    }
    reader.at(end);
  }
}
