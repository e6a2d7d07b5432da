// Reading a log file line by line: its tail, and with `follow` the lines written after, until aborted.
import { open } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { readTail } from './read-tail.js';

const FOLLOW_POLL_MS = 200;

export async function* followFile(filePath: string, options: { follow?: boolean; tail?: number; signal?: AbortSignal }): AsyncIterable<string> {
  const handle = await open(filePath, 'r').catch(() => undefined);
  if (handle === undefined) return;
  try {
    let position = (await handle.stat()).size;
    const initial = options.tail === undefined ? await handle.readFile('utf8') : await readTail(filePath, options.tail);
    if (initial.length > 0) yield* initial.replace(/\n$/, '').split('\n');
    if (options.tail === undefined) position = Buffer.byteLength(initial);
    let partial = '';
    while (options.follow === true && options.signal?.aborted !== true) {
      const { size } = await handle.stat();
      if (size < position) position = 0; // Truncated: read it again from the start.
      if (size === position) {
        await delay(FOLLOW_POLL_MS, undefined, { signal: options.signal }).catch(() => undefined);
        continue;
      }
      const buffer = Buffer.alloc(size - position);
      await handle.read(buffer, 0, buffer.length, position);
      position = size;
      const lines = (partial + buffer.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      yield* lines;
    }
  } finally {
    await handle.close();
  }
}
