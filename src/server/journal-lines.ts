// A cluster's journal read by byte offset, each event taken as the JSON it is: the API's events and the stream's resume point.
import { open, stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { EventsSelection, JournalEventAnswer } from './cluster-control.js';

/** How often a followed journal is looked at: well inside the 500 ms a change may take to reach a browser. */
const FOLLOW_INTERVAL_MS = 100;
const DEFAULT_EVENT_LIMIT = 500;

/**
 * The whole events after `offset` and the offset after the last of them. An event's id is the offset where its line
 * ends, so "after id N" reads from N; a line still being written waits for its newline. Kinds this build does not
 * know are passed on as they are: the journal's writer may be newer than the reader.
 */
export async function readJournalFrom(filePath: string, offset: number): Promise<{ events: JournalEventAnswer[]; end: number }> {
  const info = await stat(filePath).catch(() => undefined);
  if (info === undefined) return { events: [], end: 0 };
  // A journal shorter than the offset was started anew (the cluster was removed and made again): read it all.
  const from = info.size < offset ? 0 : offset;
  if (info.size === from) return { events: [], end: from };
  const handle = await open(filePath, 'r');
  try {
    const buffer = Buffer.alloc(info.size - from);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    const events: JournalEventAnswer[] = [];
    let lineStart = 0;
    let end = from;
    for (let index = 0; index < bytesRead; index += 1) {
      if (buffer[index] !== 0x0a) continue;
      const event = parseEvent(buffer.subarray(lineStart, index).toString('utf8'), from + index + 1);
      if (event !== undefined) events.push(event);
      lineStart = index + 1;
      end = from + index + 1;
    }
    return { events, end };
  } finally {
    await handle.close();
  }
}

/** The newest `limit` events (500 by default) at or after `since` of the given types, and the journal's end as the stream's resume point. */
export async function selectJournalEvents(filePath: string, selection: EventsSelection): Promise<{ events: JournalEventAnswer[]; lastId: string }> {
  const { events, end } = await readJournalFrom(filePath, 0);
  const since = selection.since?.getTime();
  const types = selection.types === undefined ? undefined : new Set(selection.types);
  const selected = events.filter((event) => (since === undefined || Date.parse(event.time) >= since) && (types === undefined || types.has(event.type)));
  return { events: selected.slice(-(selection.limit ?? DEFAULT_EVENT_LIMIT)), lastId: String(end) };
}

/**
 * Events appended after the event `afterId`, as they come, until the signal aborts. Without a resume point: from now on
 * (a page reads what came before with GET /events, which says where it ended).
 */
export async function* followJournal(filePath: string, afterId: string | undefined, signal: AbortSignal): AsyncIterable<JournalEventAnswer> {
  const parsed = afterId === undefined ? Number.NaN : Number.parseInt(afterId, 10);
  let position = Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : (await readJournalFrom(filePath, Number.MAX_SAFE_INTEGER)).end;
  while (!signal.aborted) {
    const { events, end } = await readJournalFrom(filePath, position);
    position = end;
    yield* events;
    await delay(FOLLOW_INTERVAL_MS, undefined, { signal }).catch(() => undefined);
  }
}

function parseEvent(line: string, id: number): JournalEventAnswer | undefined {
  if (line.trim() === '') return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const event = value as Record<string, unknown>;
    if (typeof event.type !== 'string' || typeof event.time !== 'string') return undefined;
    return { ...event, id: String(id), type: event.type, time: event.time };
  } catch {
    // A line torn by a crash; the journal heals it with the next write.
    return undefined;
  }
}
