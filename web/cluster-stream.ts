// One cluster's live data: the newest journal events first, then the stream from where they end (snapshots, each new event).
import { api } from './api-client.js';
import type { EventListAnswer, JournalEventAnswer, SnapshotAnswer } from './api-types.js';
import { followStream } from './event-stream-reader.js';
import { setLive } from './header-bar.js';
import { describeError, showMessage } from './message-box.js';

/** How many of the newest events the page asks for and keeps. */
export const TIMELINE_LIMIT = 1000;

export interface ClusterStreamHandlers {
  /** The newest events, once, before the stream's first. */
  onEvents: (events: JournalEventAnswer[]) => void;
  onJournal: (event: JournalEventAnswer) => void;
  onSnapshot: (snapshot: SnapshotAnswer) => void;
}

/** Reads the newest events and starts following the stream after them; returns once the stream is asked for. */
export async function followCluster(clusterPath: string, handlers: ClusterStreamHandlers): Promise<void> {
  let lastId: string | undefined;
  try {
    const page = await api<EventListAnswer>('GET', `${clusterPath}/events?limit=${TIMELINE_LIMIT}`);
    handlers.onEvents(page.events);
    lastId = page.lastId;
  } catch (error) {
    showMessage(describeError(error));
  }
  void followStream(`/api/v1${clusterPath}/stream`, lastId, {
    onLive: setLive,
    onEvent: (kind, data) => {
      if (kind === 'snapshot') handlers.onSnapshot(JSON.parse(data) as SnapshotAnswer);
      else if (kind === 'journal') handlers.onJournal(JSON.parse(data) as JournalEventAnswer);
      else if (kind === 'problem') showMessage(`the server: ${(JSON.parse(data) as { message: string }).message}`);
    },
  });
}
