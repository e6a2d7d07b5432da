import { describe, expect, it } from 'vitest';
import { fieldAtResolvedPath, flagLabel, SPEC_FIELDS } from './field-table.js';
import { applyOverrides, type RawSpec } from './overrides.js';

describe('the field table', () => {
  it('names each flag and variable once per field, and every variable reaches its field', () => {
    const variables = SPEC_FIELDS.flatMap((field) => (field.env === undefined ? [] : [field.env.name]));
    expect(new Set(variables).size).toBe(variables.length);
    for (const field of SPEC_FIELDS) {
      if (field.env === undefined) continue;
      const raw: RawSpec = field.path.startsWith('provider.') ? { provider: { type: 'docker' } } : {};
      const origins = applyOverrides(raw, { [field.env.name]: field.path === 'provider.type' ? 'docker' : '7' }, {});
      expect([...origins.keys()].map((path) => path.replace(/^workerGroups\.\d+/, 'workerGroups[]'))).toEqual([field.path]);
    }
  });

  it('spells flags as typed', () => {
    expect(flagLabel('checkInterval', '5s')).toBe('--check-interval');
    expect(flagLabel('objectStoreMemory', '1GiB')).toBe('--object-store-memory');
    expect(flagLabel('watcher', false)).toBe('--no-watcher');
  });

  it("finds a resolved path's field, a group's by its name", () => {
    expect(fieldAtResolvedPath('watcher.intervalMs')).toMatchObject({ path: 'watcher.interval', display: 'duration' });
    expect(fieldAtResolvedPath('workerGroups[gpu].objectStoreMemoryBytes')).toMatchObject({ path: 'workerGroups[].objectStoreMemory', display: 'size' });
    expect(fieldAtResolvedPath('head.memoryBytes')).toMatchObject({ path: 'head.memory' });
    expect(fieldAtResolvedPath('watcher.paused')).toBeUndefined();
  });
});
