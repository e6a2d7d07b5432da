// --set and --compare: a dotted path into the raw spec (its simulation section included), groups named by name, values read as YAML.
import { describe, expect, it } from 'vitest';
import { applySettingChange, parseSettingChange, parseSettingChanges } from './setting-change.js';

describe('setting changes', () => {
  it('reads KEY=VALUE with the value as YAML', () => {
    expect(parseSettingChange('watcher.idleTimeout=30s')).toEqual({ text: 'watcher.idleTimeout=30s', path: ['watcher', 'idleTimeout'], value: '30s' });
    expect(parseSettingChange('workerGroups.gpu.max=4').value).toBe(4);
    expect(parseSettingChange('simulation.launchLatency={median: 30s, p95: 2m}')).toMatchObject({ path: ['simulation', 'launchLatency'], value: { median: '30s', p95: '2m' } });
    expect(() => parseSettingChange('idleTimeout')).toThrow(/not KEY=VALUE/);
    expect(() => parseSettingChange('a..b=1')).toThrow(/not KEY=VALUE/);
  });

  it('splits one --compare into its space-separated changes', () => {
    expect(parseSettingChanges('watcher.idleTimeout=30s watcher.cooldown=10s').map((change) => change.text)).toEqual(['watcher.idleTimeout=30s', 'watcher.cooldown=10s']);
  });

  it('changes a field, creating the mappings on the way, and a group by its name', () => {
    const raw: Record<string, unknown> = { workerGroups: [{ name: 'cpu', max: 2 }, { name: 'gpu', max: 1 }] };
    applySettingChange(raw, parseSettingChange('watcher.idleTimeout=30s'));
    applySettingChange(raw, parseSettingChange('workerGroups.gpu.max=4'));
    applySettingChange(raw, parseSettingChange('workerGroups.0.min=1'));
    expect(raw).toEqual({ watcher: { idleTimeout: '30s' }, workerGroups: [{ name: 'cpu', max: 2, min: 1 }, { name: 'gpu', max: 4 }] });
    expect(() => applySettingChange(raw, parseSettingChange('workerGroups.tpu.max=1'))).toThrow(/workerGroups has no entry named tpu/);
  });

  it('writes out the default group when the spec leaves the groups to the defaults', () => {
    const raw: Record<string, unknown> = {};
    applySettingChange(raw, parseSettingChange('workerGroups.worker.max=8'));
    expect(raw).toEqual({ workerGroups: [{ name: 'worker', min: 2, max: 8 }] });
  });
});
