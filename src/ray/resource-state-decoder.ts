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

class WireReader {
  pos: number;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get more(): boolean {
    return this.pos < this.end;
  }

  /** A varint as a number: exact up to 2^53, as int64 counts and milliseconds are; negative int64s come out negative. */
  varint(): number {
    let low = 0;
    let high = 0;
    let shift = 0;
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
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** The bounds of a length-delimited field, which the reader then steps over. */
  span(): [number, number] {
    const length = this.varint();
    this.need(length);
    const start = this.pos;
    this.pos += length;
    return [start, this.pos];
  }

  string(): string {
    const [start, end] = this.span();
    return this.bytes.toString('utf8', start, end);
  }

  hex(): string {
    const [start, end] = this.span();
    return this.bytes.toString('hex', start, end);
  }

  sub(): WireReader {
    const [start, end] = this.span();
    return new WireReader(this.bytes, start, end);
  }

  skip(wireType: number): void {
    if (wireType === WIRE_VARINT) this.varint();
    else if (wireType === WIRE_FIXED64) this.advance(8);
    else if (wireType === WIRE_LENGTH) this.span();
    else if (wireType === WIRE_FIXED32) this.advance(4);
    else throw new Error(`unsupported protobuf wire type ${wireType} at byte ${this.pos}`);
  }

  private byte(): number {
    this.need(1);
    return this.bytes[this.pos++] as number;
  }

  private advance(count: number): void {
    this.need(count);
    this.pos += count;
  }

  private need(count: number): void {
    if (this.pos + count > this.end) throw new Error(`truncated protobuf message: ${count} more bytes wanted at byte ${this.pos} of ${this.end}`);
  }
}

/** Each field of the message in `reader`: `read` takes the fields it knows and returns false for the rest, which are skipped. */
function fields(reader: WireReader, read: (field: number, wireType: number) => boolean): void {
  while (reader.more) {
    const tag = reader.varint();
    const wireType = tag & 7;
    if (!read(tag >>> 3, wireType)) reader.skip(wireType);
  }
}

/** One entry of a `map<string, double>` into `into`. */
function numberEntry(reader: WireReader, into: ResourceShape): void {
  let key = '';
  let value = 0;
  fields(reader, (field, wireType) => {
    if (field === 1 && wireType === WIRE_LENGTH) key = reader.string();
    else if (field === 2 && wireType === WIRE_FIXED64) value = reader.double();
    else return false;
    return true;
  });
  into[key] = value;
}

function stringEntry(reader: WireReader, into: Record<string, string>): void {
  let key = '';
  let value = '';
  fields(reader, (field, wireType) => {
    if (field === 1 && wireType === WIRE_LENGTH) key = reader.string();
    else if (field === 2 && wireType === WIRE_LENGTH) value = reader.string();
    else return false;
    return true;
  });
  into[key] = value;
}

function nodeState(reader: WireReader): RayNodeState {
  const node: RayNodeState = { nodeId: '', instanceId: '', nodeTypeName: '', status: 'UNSPECIFIED', idleMs: 0, totalResources: {}, availableResources: {}, ipAddress: '', activity: [], labels: {} };
  fields(reader, (field, wireType) => {
    if (wireType === WIRE_LENGTH) {
      if (field === 1) node.nodeId = reader.hex();
      else if (field === 2) node.instanceId = reader.string();
      else if (field === 3) node.nodeTypeName = reader.string();
      else if (field === 4) numberEntry(reader.sub(), node.availableResources);
      else if (field === 5) numberEntry(reader.sub(), node.totalResources);
      else if (field === 10) node.ipAddress = reader.string();
      else if (field === 12) node.activity.push(reader.string());
      else if (field === 13) stringEntry(reader.sub(), node.labels);
      else return false;
      return true;
    }
    if (wireType !== WIRE_VARINT) return false;
    if (field === 8) node.status = NODE_STATUSES[reader.varint()] ?? 'UNSPECIFIED';
    else if (field === 9) node.idleMs = reader.varint();
    else return false;
    return true;
  });
  return node;
}

function labelPair(reader: WireReader): { label: string; value: string } {
  const pair = { label: '', value: '' };
  fields(reader, (field, wireType) => {
    if (wireType !== WIRE_LENGTH) return false;
    if (field === 1) pair.label = reader.string();
    else if (field === 2) pair.value = reader.string();
    else return false;
    return true;
  });
  return pair;
}

function placementConstraint(reader: WireReader): PlacementConstraint {
  const constraint: PlacementConstraint = {};
  fields(reader, (field, wireType) => {
    if (wireType !== WIRE_LENGTH) return false;
    if (field === 1) constraint.antiAffinity = labelPair(reader.sub());
    else if (field === 2) constraint.affinity = labelPair(reader.sub());
    else return false;
    return true;
  });
  return constraint;
}

function resourceRequest(reader: WireReader): ResourceRequest {
  const request: ResourceRequest = { shape: {}, constraints: [] };
  fields(reader, (field, wireType) => {
    if (wireType !== WIRE_LENGTH) return false;
    if (field === 1) numberEntry(reader.sub(), request.shape);
    else if (field === 2) request.constraints.push(placementConstraint(reader.sub()));
    else return false;
    return true;
  });
  return request;
}

function requestByCount(reader: WireReader): PendingRequest {
  let request: ResourceRequest = { shape: {}, constraints: [] };
  let count = 0;
  fields(reader, (field, wireType) => {
    if (field === 1 && wireType === WIRE_LENGTH) request = resourceRequest(reader.sub());
    else if (field === 2 && wireType === WIRE_VARINT) count = reader.varint();
    else return false;
    return true;
  });
  return { ...request, count };
}

function gangRequest(reader: WireReader): GangRequest {
  const requests: ResourceRequest[] = [];
  let details = '';
  let selected: ResourceRequest[] | undefined;
  fields(reader, (field, wireType) => {
    if (wireType !== WIRE_LENGTH) return false;
    if (field === 1) requests.push(resourceRequest(reader.sub()));
    else if (field === 2) details = reader.string();
    else if (field === 3) {
      const selector = reader.sub();
      const bundle: ResourceRequest[] = [];
      fields(selector, (inner, innerType) => {
        if (inner !== 1 || innerType !== WIRE_LENGTH) return false;
        bundle.push(resourceRequest(selector.sub()));
        return true;
      });
      // Only the first selector counts, as in toClusterResourceState.
      selected ??= bundle;
    } else return false;
    return true;
  });
  return { details, bundles: selected !== undefined && selected.length > 0 ? selected : requests };
}

function clusterResourceState(reader: WireReader, state: ClusterResourceState): void {
  fields(reader, (field, wireType) => {
    if (field === 1 && wireType === WIRE_VARINT) state.version = reader.varint();
    else if (wireType !== WIRE_LENGTH) return false;
    else if (field === 3) state.nodeStates.push(nodeState(reader.sub()));
    else if (field === 4) state.pendingRequests.push(requestByCount(reader.sub()));
    else if (field === 5) {
      const gang = gangRequest(reader.sub());
      // Ray appends a gang entry before it checks the group's state: an entry without bundles is no demand.
      if (gang.bundles.length > 0) state.pendingGangs.push(gang);
    } else if (field === 6) {
      const constraint = reader.sub();
      const requests: PendingRequest[] = [];
      fields(constraint, (inner, innerType) => {
        if (inner !== 1 || innerType !== WIRE_LENGTH) return false;
        requests.push(requestByCount(constraint.sub()));
        return true;
      });
      state.constraints.push(requests);
    } else if (field === 7) state.sessionName = reader.string();
    else return false;
    return true;
  });
}

/** The state in a GetClusterResourceStateReply's bytes; an empty state when the reply carries none. Throws on a malformed message. */
export function decodeClusterResourceStateReply(bytes: Uint8Array): ClusterResourceState {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = new WireReader(buffer, 0, buffer.length);
  const empty = (): ClusterResourceState => ({ version: 0, sessionName: '', nodeStates: [], pendingRequests: [], pendingGangs: [], constraints: [] });
  let state = empty();
  fields(reader, (field, wireType) => {
    if (field !== 1 || wireType !== WIRE_LENGTH) return false;
    // Given twice, the last one stands, as protobufjs reads it.
    state = empty();
    clusterResourceState(reader.sub(), state);
    return true;
  });
  return state;
}
