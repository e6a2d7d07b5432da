import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAuthToken, rayAuthEnv, readOrCreateAuthToken } from './auth-token.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rayfleet-token-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('auth token', () => {
  it('is 64 hex characters and new each time', () => {
    expect(generateAuthToken()).toMatch(/^[0-9a-f]{64}$/);
    expect(generateAuthToken()).not.toBe(generateAuthToken());
  });

  it('is created once with mode 0600, then read back', async () => {
    const tokenPath = path.join(dir, 'a', 'auth_token');
    const first = await readOrCreateAuthToken(tokenPath);
    expect(await readOrCreateAuthToken(tokenPath)).toBe(first);
    expect((await stat(tokenPath)).mode & 0o777).toBe(0o600);
  });

  it('gives racing creators one token', async () => {
    const tokenPath = path.join(dir, 'race', 'auth_token');
    const tokens = await Promise.all(Array.from({ length: 8 }, () => readOrCreateAuthToken(tokenPath)));
    expect(new Set(tokens).size).toBe(1);
  });

  it('reads a token written by hand with a trailing newline as Ray does', async () => {
    const tokenPath = path.join(dir, 'by-hand', 'auth_token');
    await mkdir(path.dirname(tokenPath));
    await writeFile(tokenPath, 'abc123\n');
    expect(await readOrCreateAuthToken(tokenPath)).toBe('abc123');
  });

  it('hands Ray the path and empties an inherited RAY_AUTH_TOKEN, which would win over the path', () => {
    expect(rayAuthEnv('/state/auth_token')).toEqual({ RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN_PATH: '/state/auth_token', RAY_AUTH_TOKEN: '' });
  });

  it('hands Ray the token itself where the process cannot read our file', () => {
    expect(rayAuthEnv({ token: 'abc' })).toEqual({ RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN: 'abc' });
  });
});
