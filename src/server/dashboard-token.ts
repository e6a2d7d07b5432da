// The dashboard's bearer token: made once, kept 0600 in RAYFLEET_HOME, compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { rayfleetHome } from '../fleet/state-dir.js';
import { readOrCreateAuthToken } from '../ray/auth-token.js';

export function dashboardDir(): string {
  return path.join(rayfleetHome(), 'dashboard');
}

export function dashboardTokenPath(): string {
  return path.join(dashboardDir(), 'token');
}

/** The token, created on first use the way a cluster's Ray token is (racing creators agree on one). */
export async function readOrCreateDashboardToken(): Promise<string> {
  return readOrCreateAuthToken(dashboardTokenPath());
}

/** Whether a presented token is the token; digests first, so neither the length nor the content leaks through timing. */
export function tokenMatches(presented: string, token: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(token));
}
