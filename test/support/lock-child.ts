// A child process for lock tests: takes the lock once and says so; with `hold`, keeps it until killed; with `race`, takes part in barrier-synchronised rounds.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tryLock, unlock } from '../../src/lock/directory-lock.js';

const [lockDir, mode, barrierDir, roundsText, id] = process.argv.slice(2);
if (lockDir === undefined || mode === undefined) throw new Error('usage: lock-child LOCK_DIR take|hold|race [BARRIER_DIR ROUNDS ID]');

const pause = new Int32Array(new SharedArrayBuffer(4));
/** A racer whose test has gone away stops waiting after this. */
const BARRIER_TIMEOUT_MS = 60_000;

/** Waits on the file in 0.2 ms steps (blocking, no timer), so every racer leaves the barrier within a fraction of a millisecond of the others. */
function waitForFile(file: string): void {
  const deadline = Date.now() + BARRIER_TIMEOUT_MS;
  while (!existsSync(file)) {
    if (Date.now() > deadline) process.exit(3);
    Atomics.wait(pause, 0, 0, 0.2);
  }
}

if (mode === 'race') {
  if (barrierDir === undefined || roundsText === undefined || id === undefined) throw new Error('race needs BARRIER_DIR ROUNDS ID');
  for (let round = 1; round <= Number(roundsText); round += 1) {
    waitForFile(path.join(barrierDir, `go-${round}`));
    let outcome: string;
    try {
      outcome = (await tryLock(lockDir)).acquired ? 'acquired' : 'refused';
    } catch (error) {
      outcome = `error ${(error as Error).message}`;
    }
    writeFileSync(path.join(barrierDir, `result-${round}-${id}`), outcome);
    if (outcome === 'acquired') {
      waitForFile(path.join(barrierDir, `end-${round}`));
      await unlock(lockDir);
      writeFileSync(path.join(barrierDir, `unlocked-${round}`), id);
    }
  }
} else {
  const result = await tryLock(lockDir);
  process.stdout.write(result.acquired ? 'acquired\n' : `refused ${result.holderPid}\n`);
  if (mode === 'hold' && result.acquired) setInterval(() => undefined, 60_000);
}
