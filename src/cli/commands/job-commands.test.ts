import { describe, expect, it } from 'vitest';
import { offsetOfLastLines } from './job-commands.js';

describe('offsetOfLastLines', () => {
  it('finds where the last N lines start, with or without a final newline', () => {
    expect('a\nb\nc\n'.slice(offsetOfLastLines('a\nb\nc\n', 2))).toBe('b\nc\n');
    expect('a\nb\nc'.slice(offsetOfLastLines('a\nb\nc', 2))).toBe('b\nc');
    expect('a\nb\n'.slice(offsetOfLastLines('a\nb\n', 5))).toBe('a\nb\n');
    expect('a\nb\n'.slice(offsetOfLastLines('a\nb\n', 0))).toBe('');
    expect(offsetOfLastLines('', 3)).toBe(0);
  });
});
