// A cluster's journal as `events` shows it: this machine's, merged in time order with a watcher's inside the cluster (cai).
import { parseJournal, selectEvents, type Journal, type ReadOptions } from '../journal/journal.js';
import type { JournalEvent } from '../journal/event.js';
import type { Logger } from '../log/logger.js';
import type { NodeProvider } from '../providers/node-provider.js';

export interface ClusterEvents {
  events: JournalEvent[];
  /** Lines of this machine's journal that held no event (torn by a crash). */
  skippedLines: number[];
}

export async function readClusterEvents(journal: Journal, provider: NodeProvider, logger: Logger, options: ReadOptions = {}): Promise<ClusterEvents> {
  const local = await journal.read();
  const remote = await provider.remoteJournal?.().catch((error: unknown) => {
    logger.warn({ err: error }, "cannot read the journal of the watcher inside the cluster; showing this machine's");
    return undefined;
  });
  if (remote === undefined) return { events: selectEvents(local.events, options), skippedLines: local.skippedLines };
  const merged = [...local.events, ...parseJournal(remote).events].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  return { events: selectEvents(merged, options), skippedLines: local.skippedLines };
}
