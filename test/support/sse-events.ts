// Server-sent events read off a fetch Response, for tests of the control plane's stream.
export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** Reads events until `until` holds of what was read (or the stream ends), then cancels the stream. */
export async function readSse(response: Response, until: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let buffer = '';
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const field = (name: string): string | undefined =>
          block
            .split('\n')
            .find((line) => line.startsWith(`${name}:`))
            ?.slice(name.length + 1)
            .trim();
        const data = field('data');
        const id = field('id');
        if (data !== undefined) events.push({ event: field('event') ?? 'message', data, ...(id === undefined ? {} : { id }) });
      }
    }
  } finally {
    await reader.cancel();
  }
  return events;
}
