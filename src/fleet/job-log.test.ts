import { describe, expect, it } from 'vitest';
import { entrypointMarker, entrypointOutputStart, JobLogSplitter } from './job-log.js';

const marker = entrypointMarker('raysubmit_1', "python -c 'print(1)\nprint(2)'");
const rayLine = '2026-12-01 21:44:01,223\tINFO job_manager.py:581 -- Runtime env is setting up.\n';

function split(pieces: string[], end = true): { preamble: string; output: string } {
  const seen = { preamble: '', output: '' };
  const splitter = new JobLogSplitter(marker, { preamble: (text) => (seen.preamble += text), output: (text) => (seen.output += text) });
  for (const piece of pieces) splitter.write(piece);
  if (end) splitter.end();
  return seen;
}

describe('JobLogSplitter', () => {
  it("puts Ray's lines and the entrypoint line apart from the entrypoint's output, however the log arrives", () => {
    const log = `${rayLine}${marker}1\n2\nlast`;
    const expected = { preamble: `${rayLine}${marker}`, output: '1\n2\nlast' };
    expect(split([log])).toEqual(expected);
    // One character at a time: the marker spans two lines, and arrives in pieces.
    expect(split([...log])).toEqual(expected);
    expect(split([rayLine, marker.slice(0, 40), marker.slice(40), '1\n', '2\nlast'])).toEqual(expected);
  });

  it('holds nothing back from a log without the preamble (another Ray), and writes it as output', () => {
    expect(split(['hello\n', 'world\n'], false)).toEqual({ preamble: '', output: 'hello\nworld\n' });
  });

  it("leaves a log that ended before the entrypoint ran as Ray's, and a last partial line that is not Ray's as output", () => {
    expect(split([rayLine, '2026-12-01 21:44:02,000\tERROR job_manager.py:600 -- Runtime env setup failed\n'])).toEqual({
      preamble: `${rayLine}2026-12-01 21:44:02,000\tERROR job_manager.py:600 -- Runtime env setup failed\n`,
      output: '',
    });
    expect(split([rayLine, 'no newline'])).toEqual({ preamble: rayLine, output: 'no newline' });
  });

  it('finds where the output starts in a whole log', () => {
    expect(entrypointOutputStart(`${rayLine}${marker}out\n`, marker)).toBe(rayLine.length + marker.length);
    expect(entrypointOutputStart('plain output\n', marker)).toBe(0);
    expect(entrypointOutputStart(rayLine, marker)).toBe(rayLine.length);
  });
});
