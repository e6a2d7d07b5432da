import { describe, expect, it } from 'vitest';
import { formatTable } from './format-table.js';

describe('formatTable', () => {
  it('pads every column but the last to its widest cell', () => {
    expect(formatTable(['NAME', 'STATE'], [['ray-head', 'running'], ['ray-worker-10', 'stopped']])).toBe(
      ['NAME           STATE', 'ray-head       running', 'ray-worker-10  stopped'].join('\n'),
    );
  });

  it('prints only headers for no rows', () => {
    expect(formatTable(['A', 'B'], [])).toBe('A  B');
  });
});
