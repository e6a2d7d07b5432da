import { describe, expect, it } from 'vitest';
import { ExitCode, RayfleetError, exitCodeOf } from './errors.js';

describe('error codes map to the documented exit codes', () => {
  it.each([
    ['SPEC_INVALID', 2],
    ['USAGE', 2],
    ['GROUP_AT_MAX', 2],
    ['SPEC_NOT_FOUND', 3],
    ['CLUSTER_NOT_FOUND', 3],
    ['NODE_NOT_FOUND', 3],
    ['GROUP_NOT_FOUND', 3],
    ['NODE_START_TIMEOUT', 4],
    ['WAIT_TIMEOUT', 4],
    ['RAY_UNREACHABLE', 5],
    ['PORT_IN_USE', 1],
    ['NODE_BUSY', 1],
    ['RUNTIME_INSTALL_FAILED', 1],
    ['INTERRUPTED', 130],
  ] as const)('%s exits %i', (code, exitCode) => {
    expect(new RayfleetError(code, 'x').exitCode).toBe(exitCode);
    expect(exitCodeOf(new RayfleetError(code, 'x'))).toBe(exitCode);
  });

  it('maps anything else to 1 and keeps the cause', () => {
    expect(exitCodeOf(new Error('boom'))).toBe(ExitCode.failure);
    const cause = new Error('root');
    expect(new RayfleetError('PROVIDER_FAILED', 'wrapped', { cause }).cause).toBe(cause);
  });
});
