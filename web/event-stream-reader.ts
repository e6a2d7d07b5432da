// The cluster's server-sent events read with fetch (EventSource cannot send the token), resumed from the last event id.
import { authHeaders, forgetToken, tabToken } from './api-client.js';

export interface StreamHandlers {
  onEvent: (kind: string, data: string, id: string | undefined) => void;
  onLive: (live: boolean) => void;
}

const RECONNECT_MS = 1000;

/** Follows the stream until the page goes; every reconnect sends Last-Event-ID, so no journal event is missed. */
export async function followStream(url: string, lastEventId: string | undefined, handlers: StreamHandlers): Promise<void> {
  let lastId = lastEventId;
  for (;;) {
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream', ...authHeaders() };
      if (lastId !== undefined) headers['last-event-id'] = lastId;
      const response = await fetch(url, { headers, credentials: 'omit', cache: 'no-store' });
      if (response.status === 401) {
        forgetToken();
        await tabToken();
        continue;
      }
      if (!response.ok || response.body === null) throw new Error(`the stream answered ${response.status}`);
      handlers.onLive(true);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const message = parseMessage(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (message.id !== undefined) lastId = message.id;
          if (message.data !== undefined) handlers.onEvent(message.event ?? 'message', message.data, message.id);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // A dropped connection or a server restart: reconnect below.
    }
    handlers.onLive(false);
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}

function parseMessage(block: string): { event?: string; data?: string; id?: string } {
  const message: { event?: string; data?: string; id?: string } = {};
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') message.event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') message.id = value;
  }
  if (data.length > 0) message.data = data.join('\n');
  return message;
}
