// Ray's token authentication for one cluster: a token of its own, kept in a 0600 file and handed to Ray by path, never by value.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** 256 random bits as hex, the form `ray get-auth-token --generate` makes. */
export function generateAuthToken(): string {
  return randomBytes(32).toString('hex');
}

/** The cluster's token: read from its file, or created there once; racing creators agree on one. */
export async function readOrCreateAuthToken(tokenPath: string): Promise<string> {
  const existing = await readToken(tokenPath);
  if (existing !== undefined) return existing;
  await mkdir(path.dirname(tokenPath), { recursive: true });
  const draft = `${tokenPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(draft, generateAuthToken(), { mode: 0o600 });
  try {
    // link() refuses to replace a file: whoever links first wins, the others read the winner's token.
    await link(draft, tokenPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(draft, { force: true });
  }
  const token = await readToken(tokenPath);
  if (token === undefined) throw new Error(`the auth token file ${tokenPath} is empty`);
  return token;
}

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
 * What Ray's processes and drivers need for token auth. The path, not the token, so the secret
 * never shows in `ps`, `rayfleet env` or a log line.
 */
export function rayAuthEnv(tokenPath: string): Record<string, string> {
  return { RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN_PATH: tokenPath };
}
