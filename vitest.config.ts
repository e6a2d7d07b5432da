// Test layout: fast unit tests beside the source, end-to-end tests against a real Ray under test/.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './test/plain-summary-reporter.ts'],
    projects: [
      {
        extends: true,
        // test/browser: the dashboard page in Chromium against a stand-in control plane, no Ray: fast enough to be a unit test.
        test: { name: 'unit', include: ['src/**/*.test.ts', 'test/browser/**/*.test.ts'], testTimeout: 20_000 },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          globalSetup: ['./test/global-setup.ts'],
          // A file whose cluster lost its head stops at the first test that sees it (test/support/head-watch.ts).
          setupFiles: ['./test/support/head-watch-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 600_000,
          // Real Ray clusters share 2 cores: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
