// The tests StrykerJS reruns against each mutant of the lock and process-identity code: in-process ones only, since a mutant is active only in the test's own process.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/process/*.test.ts', 'src/fs/directory-lock.test.ts', 'src/watcher/watcher-service.test.ts'],
    // These drive child processes, which run the code unmutated: they cannot kill a mutant, only slow the run.
    testNamePattern: '^(?!.*(racing|killed in the middle|another live process holds it)).*$',
    testTimeout: 20_000,
  },
});
