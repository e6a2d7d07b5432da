// What a call that must fail threw: for tests that assert on the error itself, not just that there was one.
import { RayfleetError } from '../../src/errors.js';

/** The value a synchronous call threw; fails the test if it returned. */
export function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** The RayfleetError an async call rejected with; fails the test if it resolved or threw anything else. */
export async function rayfleetErrorOf(run: () => Promise<unknown>): Promise<RayfleetError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof RayfleetError) return error;
    throw error;
  }
  throw new Error('expected a RayfleetError');
}
