// The bar atop every view: whether the page is live, and the button that forgets this tab's token.
import { forgetToken, hasToken, onTokenChange } from './api-client.js';
import { byId } from './dom.js';

export function setLive(live: boolean): void {
  const badge = byId('live');
  badge.textContent = live ? 'live' : 'reconnecting…';
  badge.className = `badge ${live ? 'ok' : 'warn'}`;
}

export function watchTokenButton(): void {
  const button = byId<HTMLButtonElement>('forget-token');
  const update = (): void => {
    button.hidden = !hasToken();
  };
  button.addEventListener('click', () => {
    forgetToken();
  });
  onTokenChange(update);
  update();
}
