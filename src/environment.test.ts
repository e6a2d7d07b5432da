import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_VARIABLES, readEnv } from './environment.js';

const ROOT = path.resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

describe('the environment', () => {
  it('is read in one module: no other source reads a variable of process.env', () => {
    const readers = sources(path.join(ROOT, 'src'))
      .filter((file) => !file.endsWith(`${path.sep}environment.ts`))
      .filter((file) => /process\.env\.[A-Za-z_]|process\.env\[/.test(readFileSync(file, 'utf8')))
      .map((file) => path.relative(ROOT, file));
    expect(readers).toEqual([]);
  });

  it("is the README's variable table, row for row", () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Environment variables'));
    const table = section.slice(0, section.indexOf('\n## ') === -1 ? undefined : section.indexOf('\n## '));
    const documented = [...table.matchAll(/^\| `([A-Za-z0-9_]+)` \|/gm)].map((match) => match[1]);
    expect(documented.sort()).toEqual(Object.keys(ENVIRONMENT_VARIABLES).sort());
  });

  it('treats a blank value as unset', () => {
    expect(readEnv('RAYFLEET_HOME', { RAYFLEET_HOME: '  ' })).toBeUndefined();
    expect(readEnv('RAYFLEET_HOME', { RAYFLEET_HOME: ' /x ' })).toBe('/x');
  });
});
