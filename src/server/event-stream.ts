// The live stream of one cluster as server-sent events: journal events with their resume ids, and snapshots when anything changes.
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { setTimeout as delay } from 'node:timers/promises';
import { isRayfleetError, messageOf } from '../errors.js';
import type { ClusterControl } from './cluster-control.js';

export interface StreamOptions {
  /** Resume after this journal event (the `Last-Event-ID` header). */
  lastEventId?: string | undefined;
  /** How often nodes and watcher are looked at for a change. */
  snapshotIntervalMs?: number;
  /** Ends every stream when the server closes. */
  closed?: AbortSignal;
}

const DEFAULT_SNAPSHOT_INTERVAL_MS = 1000;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

/**
 * `event: journal` carries one journal event, its `id` the event's; `event: snapshot` carries nodes and watcher and has
 * no id, so a client's last id is always a journal position to resume from. A reconnect with `Last-Event-ID` gets every
 * event after it; one without starts at the journal's end (GET /events says where that is).
 */
export function streamClusterEvents(context: Context, control: ClusterControl, cluster: string, options: StreamOptions = {}): Response {
  context.header('cache-control', 'no-store');
  // Tells nginx-like proxies (CML's ingress among them) not to hold the stream back.
  context.header('x-accel-buffering', 'no');
  return streamSSE(context, async (stream) => {
    const ended = new AbortController();
    stream.onAbort(() => ended.abort());
    const signal = options.closed === undefined ? ended.signal : AbortSignal.any([ended.signal, options.closed]);
    const stop = (): void => ended.abort();
    const journal = (async () => {
      for await (const event of control.followEvents(cluster, options.lastEventId, signal)) {
        await stream.writeSSE({ event: 'journal', id: event.id, data: JSON.stringify(event) });
      }
    })();
    const snapshots = (async () => {
      let last = '';
      let lastWriteMs = Date.now();
      while (!signal.aborted) {
        try {
          const text = JSON.stringify(await control.snapshot(cluster));
          if (text !== last) {
            last = text;
            lastWriteMs = Date.now();
            await stream.writeSSE({ event: 'snapshot', data: text });
          } else if (Date.now() - lastWriteMs >= KEEPALIVE_MS) {
            lastWriteMs = Date.now();
            await stream.write(': keep-alive\n\n');
          }
        } catch (error) {
          // The cluster went down: say so, and end the stream; anything else is told and tried again.
          await stream.writeSSE({ event: 'problem', data: JSON.stringify({ code: isRayfleetError(error) ? error.code : 'INTERNAL', message: messageOf(error) }) });
          if (isRayfleetError(error, 'CLUSTER_NOT_FOUND')) stop();
        }
        await delay(options.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS, undefined, { signal }).catch(() => undefined);
      }
    })();
    await Promise.all([journal, snapshots]).finally(stop);
  });
}
