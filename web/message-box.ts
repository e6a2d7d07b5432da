// The page's one message box: an error stays until it is closed, a note that something worked fades.
import { ApiError } from './api-client.js';
import { byId, el, replaceChildren } from './dom.js';

/** How long a note that something worked stays up; errors stay until closed. */
const INFO_MS = 8000;
let infoTimer: ReturnType<typeof setTimeout> | undefined;

export function showMessage(text: string, kind: 'error' | 'info' = 'error', action?: { label: string; run: () => void }): void {
  const box = byId('message');
  clearTimeout(infoTimer);
  if (kind === 'info') {
    infoTimer = setTimeout(() => {
      box.hidden = true;
    }, INFO_MS);
  }
  box.className = kind;
  replaceChildren(box, el('span', {}, text));
  if (action !== undefined) {
    const button = el('button', { type: 'button', 'data-testid': 'message-action' }, action.label);
    button.addEventListener('click', () => {
      box.hidden = true;
      action.run();
    });
    box.append(' ', button);
  }
  const close = el('button', { type: 'button', class: 'quiet' }, '×');
  close.addEventListener('click', () => {
    box.hidden = true;
  });
  box.append(' ', close);
  box.hidden = false;
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.code}: ${error.message}${error.details === null ? '' : ` — ${error.details}`}`;
  return error instanceof Error ? error.message : String(error);
}
