// A child process for lock tests: takes the lock once and says so; with `hold`, keeps it until killed; with `race`, takes part in barrier-synchronised rounds.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tryLock, unlock } from '../../src/fs/directory-lock.js';

const [lockDir, mode, barrierDir, roundsText, id] = process.argv.slice(2);
if (lockDir === undefined || mode === undefined) throw new Error('usage: lock-child LOCK_DIR take|hold|race [BARRIER_DIR ROUNDS ID]');

/** Busy-waits on the file, so every racer leaves the barrier within microseconds of the others. */
function spinUntil(file: string): void {
  while (!existsSync(file)) {
    // Spinning on purpose: a timer would spread the racers over milliseconds.
  }
}

if (mode === 'race') {
  if (barrierDir === undefined || roundsText === undefined || id === undefined) throw new Error('race needs BARRIER_DIR ROUNDS ID');
  for (let round = 1; round <= Number(roundsText); round += 1) {
    spinUntil(path.join(barrierDir, `go-${round}`));
    let outcome: string;
    try {
      outcome = (await tryLock(lockDir)).acquired ? 'acquired' : 'refused';
    } catch (error) {
      outcome = `error ${(error as Error).message}`;
    }
    writeFileSync(path.join(barrierDir, `result-${round}-${id}`), outcome);
    if (outcome === 'acquired') {
      spinUntil(path.join(barrierDir, `end-${round}`));
      await unlock(lockDir);
      writeFileSync(path.join(barrierDir, `unlocked-${round}`), id);
    }
  }
} else {
  const result = await tryLock(lockDir);
  process.stdout.write(result.acquired ? 'acquired\n' : `refused ${result.holderPid}\n`);
  if (mode === 'hold' && result.acquired) setInterval(() => undefined, 60_000);
}
