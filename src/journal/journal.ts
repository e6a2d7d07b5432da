// The append-only event journal of one cluster: a JSONL file, one event a line, readable after any crash.
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { failpoint, isArmed } from '../fault/failpoints.js';
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

  /** Lines asked for while a write is under way, in the order asked: they go out together in the next write. */
  private readonly queued: Array<{ line: string; written: () => void; failed: (error: unknown) => void }> = [];
  private writing = false;

  /**
   * Appends one event in a single O_APPEND write, so concurrent writers interleave whole lines. Every write looks
   * at the file's last byte first: a line torn by any writer's crash (this process's or another's, at any time) is
   * ended by a newline at the front of this same write, and this event stands on a line of its own. Events appended
   * while this process is writing wait for that write and then go out together, in order, in one write: 32 launches
   * journaled at once cost two writes, not 32 (each an open, a look at the last byte, a write and a close). It returns
   * once its line is written.
   */
  async append(event: NewEvent, now: Date = new Date()): Promise<JournalEvent> {
    // Parsed as it will be read back: defaults filled, and a malformed event fails here rather than vanish on read.
    const full: JournalEvent = eventSchema.parse({ v: 1, time: now.toISOString(), cluster: this.cluster, ...event });
    const line = `${JSON.stringify(full)}\n`;
    await new Promise<void>((written, failed) => {
      this.queued.push({ line, written, failed });
      if (!this.writing) void this.writeQueued();
    });
    return full;
  }

  private async writeQueued(): Promise<void> {
    this.writing = true;
    try {
      while (this.queued.length > 0) {
        const batch = this.queued.splice(0);
        try {
          await this.writeLines(batch.map((queued) => queued.line).join(''));
          for (const queued of batch) queued.written();
        } catch (error) {
          for (const queued of batch) queued.failed(error);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeLines(lines: string): Promise<void> {
    const handle = await this.openForAppend();
    try {
      const bytes = Buffer.from((await endsTorn(handle)) ? `\n${lines}` : lines);
      if (isArmed('journal.mid-append')) {
        await handle.write(bytes, 0, Math.floor(bytes.length / 2));
        failpoint('journal.mid-append');
      }
      let written = 0;
      // One write(2) for the whole batch on any local filesystem; a short write (a full disk) is finished rather than left torn.
      while (written < bytes.length) written += (await handle.write(bytes, written, bytes.length - written)).bytesWritten;
    } finally {
      await handle.close();
    }
  }

  /** O_APPEND for the write, readable for the last-byte check; the directory is made on the first append only. */
  private async openForAppend(): Promise<FileHandle> {
    try {
      return await open(this.filePath, 'a+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(path.dirname(this.filePath), { recursive: true });
      return open(this.filePath, 'a+');
    }
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

/**
 * Whether the file ends inside a line: fstat, then a 1-byte pread of the last byte, whatever the journal's size.
 * A writer that appends between this look and our write can still meet a torn tail unhealed, or heal it twice (a
 * blank line, which readers skip); the window is two syscalls wide, where a once-per-process check left it open for good.
 */
async function endsTorn(handle: FileHandle): Promise<boolean> {
  const { size } = await handle.stat();
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  const { bytesRead } = await handle.read(last, 0, 1, size - 1);
  return bytesRead === 1 && last[0] !== 0x0a;
}

function parseLine(line: string): JournalEvent | undefined {
  try {
    const parsed = eventSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
