import { describe, expect, it } from 'vitest';
import { demuxLogStream } from './log-stream.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

async function collect(chunks: Buffer[]): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of demuxLogStream((async function* () { yield* chunks; })())) lines.push(line);
  return lines;
}

describe('demuxLogStream', () => {
  it('joins stdout and stderr frames into lines, whatever the chunk boundaries', async () => {
    const bytes = Buffer.concat([frame(1, 'one\ntw'), frame(2, 'o\nthree'), frame(1, '\nlast')]);
    expect(await collect([bytes])).toEqual(['one', 'two', 'three', 'last']);
    // Split at every byte: headers and payloads cut anywhere.
    expect(await collect([...bytes].map((byte) => Buffer.from([byte])))).toEqual(['one', 'two', 'three', 'last']);
  });
});
