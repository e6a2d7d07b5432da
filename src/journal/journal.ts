// The append-only event journal of one cluster: a JSONL file, one event a line, readable after any crash.
import { appendFile, mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { eventSchema, type JournalEvent, type NewEvent } from './event.js';

export interface JournalRead {
  events: JournalEvent[];
  /** Line numbers that held no event: lines torn by a crash mid-write. */
  skippedLines: number[];
}

export interface ReadOptions {
  since?: Date;
  /** Only the newest N (after `since`). */
  last?: number;
}

export class Journal {
  constructor(
    readonly filePath: string,
    private readonly cluster: string,
  ) {}

  private endChecked = false;

  /** Appends one event in a single write, so concurrent writers interleave whole lines. */
  async append(event: NewEvent, now: Date = new Date()): Promise<JournalEvent> {
    // Parsed as it will be read back: defaults filled, and a malformed event fails here rather than vanish on read.
    const full: JournalEvent = eventSchema.parse({ v: 1, time: now.toISOString(), cluster: this.cluster, ...event });
    if (!this.endChecked) {
      await mkdir(path.dirname(this.filePath), { recursive: true });
      // A crash mid-write leaves a line without its newline; end it so the next event stands on a line of its own.
      if (!(await endsWithNewline(this.filePath))) await appendFile(this.filePath, '\n');
      this.endChecked = true;
    }
    await appendFile(this.filePath, `${JSON.stringify(full)}\n`);
    return full;
  }

  /** Every readable event in order; lines torn by a crash are skipped and reported, never fatal. */
  async read(options: ReadOptions = {}): Promise<JournalRead> {
    let text: string;
    try {
      text = await readFile(this.filePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], skippedLines: [] };
      throw error;
    }
    const read = parseJournal(text);
    return { ...read, events: selectEvents(read.events, options) };
  }
}

/** The events of a journal's text; lines that hold none (torn by a crash) are reported by number. */
export function parseJournal(text: string): JournalRead {
  const events: JournalEvent[] = [];
  const skippedLines: number[] = [];
  text.split('\n').forEach((line, lineIndex) => {
    if (line.trim() === '') return;
    const event = parseLine(line);
    if (event === undefined) skippedLines.push(lineIndex + 1);
    else events.push(event);
  });
  return { events, skippedLines };
}

/** The events since a time, then the newest N of those. */
export function selectEvents(events: JournalEvent[], options: ReadOptions): JournalEvent[] {
  const since = options.since?.getTime();
  const selected = since === undefined ? events : events.filter((event) => Date.parse(event.time) >= since);
  return options.last === undefined ? selected : selected.slice(-options.last);
}

async function endsWithNewline(filePath: string): Promise<boolean> {
  const handle = await open(filePath, 'r').catch(() => undefined);
  if (handle === undefined) return true;
  try {
    const { size } = await handle.stat();
    if (size === 0) return true;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    await handle.close();
  }
}

function parseLine(line: string): JournalEvent | undefined {
  try {
    const parsed = eventSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
