// The API as the page calls it: JSON in and out, the token of this tab asked for once, errors as the API words them.
const API = '/api/v1';
const TOKEN_KEY = 'rayfleet.dashboardToken';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: string | null,
  ) {
    super(message);
  }
}

const listeners: Array<() => void> = [];

export function hasToken(): boolean {
  return sessionStorage.getItem(TOKEN_KEY) !== null;
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  for (const listener of listeners) listener();
}

export function onTokenChange(listener: () => void): void {
  listeners.push(listener);
}

/** The token this tab holds; asked for (once per tab: sessionStorage) when there is none. */
export async function tabToken(): Promise<string | undefined> {
  const held = sessionStorage.getItem(TOKEN_KEY);
  if (held !== null) return held;
  const asked = await askToken();
  if (asked === undefined) return undefined;
  sessionStorage.setItem(TOKEN_KEY, asked);
  for (const listener of listeners) listener();
  return asked;
}

function askToken(): Promise<string | undefined> {
  const dialog = document.getElementById('token-dialog') as HTMLDialogElement;
  const form = document.getElementById('token-form') as HTMLFormElement;
  const input = document.getElementById('token-input') as HTMLInputElement;
  input.value = '';
  return new Promise((resolve) => {
    const done = (value: string | undefined): void => {
      form.removeEventListener('submit', submitted);
      dialog.removeEventListener('cancel', cancelled);
      dialog.close();
      resolve(value);
    };
    const submitted = (event: SubmitEvent): void => {
      event.preventDefault();
      const button = event.submitter as HTMLButtonElement | null;
      done(button?.value === 'cancel' || input.value.trim() === '' ? undefined : input.value.trim());
    };
    const cancelled = (): void => done(undefined);
    form.addEventListener('submit', submitted);
    dialog.addEventListener('cancel', cancelled);
    dialog.showModal();
    input.focus();
  });
}

/** Headers every request carries: the token when this tab has one. No cookies are ever sent or set. */
export function authHeaders(): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

/**
 * Calls the API. A change asks for the token first; a 401 (a wrong token, or reads off loopback) forgets the token,
 * asks again once, and retries.
 */
export async function api<T = unknown>(method: string, path: string, body?: unknown, options: { needsToken?: boolean } = {}): Promise<T> {
  if (options.needsToken === true && (await tabToken()) === undefined) throw new ApiError(401, 'UNAUTHORIZED', 'no token given', null);
  for (let attempt = 0; ; attempt += 1) {
    const headers: Record<string, string> = { accept: 'application/json', ...authHeaders() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${API}${path}`, { method, headers, body: body === undefined ? null : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
    const answer = (await response.json().catch(() => null)) as { code?: string; message?: string; details?: string | null } | null;
    if (response.status === 401 && attempt === 0) {
      forgetToken();
      if ((await tabToken()) !== undefined) continue;
    }
    if (!response.ok) throw new ApiError(response.status, answer?.code ?? `HTTP_${response.status}`, answer?.message ?? response.statusText, answer?.details ?? null);
    return answer as T;
  }
}
