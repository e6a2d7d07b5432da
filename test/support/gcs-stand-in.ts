// A stand-in for Ray's GCS: a gRPC server of our proto's AutoscalerStateService that records what it is sent and answers what its user sets.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface ReceivedCall {
  method: string;
  request: Record<string, unknown>;
  authorization: string | undefined;
}

/**
 * A decoded reply, an error, a reply encoded once beforehand (a large one, so each call costs the server nothing),
 * replies encoded beforehand and answered in turn (a cluster whose idle times count up, as Ray's GCS reports them), or
 * no answer at all.
 */
export type StandInAnswer = { reply: object } | { encoded: Buffer } | { inTurn: Buffer[] } | { error: { code: grpc.status; details: string } } | 'never';

const PROTO = fileURLToPath(new URL('../../proto/autoscaler.proto', import.meta.url));
const METHODS = ['GetClusterResourceState', 'DrainNode', 'RequestClusterResourceConstraint'] as const;
export type GcsMethod = (typeof METHODS)[number];

export class GcsStandIn {
  readonly received: ReceivedCall[] = [];
  /** What each method answers; an empty reply when unset. */
  answers: Partial<Record<GcsMethod, StandInAnswer>> = {};

  private constructor(
    private readonly server: grpc.Server,
    readonly address: string,
    private readonly service: grpc.ServiceDefinition,
  ) {}

  static async start(): Promise<GcsStandIn> {
    const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as { ray: { rpc: { autoscaler: { AutoscalerStateService: { service: grpc.ServiceDefinition } } } } };
    // A reply given already encoded goes out as it is; any other is encoded as grpc-js would.
    const service: grpc.ServiceDefinition = Object.fromEntries(
      Object.entries(loaded.ray.rpc.autoscaler.AutoscalerStateService.service).map(([name, method]) => {
        const serialize = method.responseSerialize as (value: unknown) => Buffer;
        return [name, { ...method, responseSerialize: (value: unknown) => (value instanceof PreEncoded ? value.bytes : serialize(value)) }];
      }),
    );
    const server = new grpc.Server();
    let standIn: GcsStandIn | undefined;
    const handler =
      (method: GcsMethod): grpc.handleUnaryCall<Record<string, unknown>, object> =>
      (call, callback) => {
        const self = standIn as GcsStandIn;
        self.received.push({ method, request: call.request, authorization: call.metadata.get('authorization')[0]?.toString() });
        const answer = self.answers[method] ?? { reply: {} };
        if (answer === 'never') return;
        if ('error' in answer) callback({ code: answer.error.code, details: answer.error.details });
        else if ('encoded' in answer) callback(null, new PreEncoded(answer.encoded));
        else if ('inTurn' in answer) callback(null, new PreEncoded(answer.inTurn[self.turn(method) % answer.inTurn.length] as Buffer));
        else callback(null, answer.reply);
      };
    server.addService(service, Object.fromEntries(METHODS.map((method) => [method, handler(method)])));
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error)));
    });
    standIn = new GcsStandIn(server, `127.0.0.1:${port}`, service);
    return standIn;
  }

  /** A method's reply in wire form, to be served as `{ encoded }` without encoding it again on every call. */
  encode(method: GcsMethod, reply: object): Buffer {
    return (this.service[method]?.responseSerialize as (value: object) => Buffer)(reply);
  }

  private readonly turns = new Map<GcsMethod, number>();

  /** How many calls of a method came before this one. */
  private turn(method: GcsMethod): number {
    const turn = this.turns.get(method) ?? 0;
    this.turns.set(method, turn + 1);
    return turn;
  }

  /** Forgets what was received and answered. */
  reset(): void {
    this.received.length = 0;
    this.answers = {};
    this.turns.clear();
  }

  close(): void {
    this.server.forceShutdown();
  }
}

class PreEncoded {
  constructor(readonly bytes: Buffer) {}
}
