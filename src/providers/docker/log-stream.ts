// `docker logs` without a TTY is one stream of frames: an 8-byte header (stream type, 3 zero bytes, big-endian length), then the bytes.

const HEADER_BYTES = 8;

/** The lines of a multiplexed log stream, stdout and stderr interleaved as the engine sent them. */
export async function* demuxLogStream(frames: AsyncIterable<Buffer | string>): AsyncIterable<string> {
  let pending = Buffer.alloc(0);
  let text = '';
  for await (const chunk of frames) {
    pending = Buffer.concat([pending, typeof chunk === 'string' ? Buffer.from(chunk) : chunk]);
    while (pending.length >= HEADER_BYTES) {
      const length = pending.readUInt32BE(4);
      if (pending.length < HEADER_BYTES + length) break;
      text += pending.subarray(HEADER_BYTES, HEADER_BYTES + length).toString('utf8');
      pending = pending.subarray(HEADER_BYTES + length);
    }
    const lines = text.split('\n');
    text = lines.pop() ?? '';
    yield* lines;
  }
  if (text !== '') yield text;
}
