// Ray's token authentication for one cluster: a token of its own, kept in a 0600 file and handed to Ray by path where it can be.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** 256 random bits as hex, the form `ray get-auth-token --generate` makes; Ray accepts any string. */
export function generateAuthToken(): string {
  return randomBytes(32).toString('hex');
}

/** The cluster's token: read from its file, or created there once; racing creators agree on one. */
export async function readOrCreateAuthToken(tokenPath: string): Promise<string> {
  const existing = await readToken(tokenPath);
  if (existing !== undefined) return existing;
  await mkdir(path.dirname(tokenPath), { recursive: true, mode: 0o700 });
  const draft = `${tokenPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(draft, generateAuthToken(), { mode: 0o600, flag: 'wx' });
  try {
    // link() refuses to replace a file: whoever links first wins, the others read the winner's token.
    await link(draft, tokenPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(draft, { force: true });
  }
  const token = await readToken(tokenPath);
  if (token === undefined) throw new Error(`the auth token file ${tokenPath} is empty: delete it and rayfleet makes a new one`);
  return token;
}

/** Ray trims the file too, so a token written with a trailing newline still matches. */
async function readToken(tokenPath: string): Promise<string | undefined> {
  try {
    const token = (await readFile(tokenPath, 'utf8')).trim();
    return token === '' ? undefined : token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * What `ray start` (head and workers) and drivers need in their environment for token auth, as checked
 * against Ray 2.60:
 * - RAY_AUTH_MODE=token everywhere. Without it a worker or a driver given an address never sends a token,
 *   and a head turns token auth on only if it happens to find one (e.g. a stray ~/.ray/auth_token).
 * - A path (the secret stays out of `ps` and `rayfleet env`) or, where the process cannot read our file
 *   (a container, a remote machine), the token itself.
 * - RAY_AUTH_TOKEN wins over RAY_AUTH_TOKEN_PATH, and Ray takes an empty one as unset: the path form
 *   empties it so a token inherited from the user's shell cannot shadow the cluster's.
 */
export function rayAuthEnv(source: string | { token: string }): Record<string, string> {
  if (typeof source === 'string') return { RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN_PATH: source, RAY_AUTH_TOKEN: '' };
  return { RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN: source.token };
}
