// The last lines of a log file, for error messages that show what went wrong.
import { open } from 'node:fs/promises';

const TAIL_BYTES = 64 * 1024;

/** The last `lines` lines of a file; empty when the file does not exist. */
export async function readTail(filePath: string, lines: number): Promise<string> {
  let handle;
  try {
    handle = await open(filePath, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - TAIL_BYTES);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const text = buffer.toString('utf8').replace(/\n$/, '');
    return text.split('\n').slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}
