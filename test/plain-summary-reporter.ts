// Ends every run with "N passed, N failed, N skipped" alone on a line: the closing line CI reads. A file or suite
// whose own code failed (its loading, a beforeAll) counts as failed, as the tests it skipped never ran.
import type { Reporter, TestModule } from 'vitest/node';

export default class PlainSummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const testModule of testModules) {
      for (const testCase of testModule.children.allTests()) {
        const state = testCase.result().state;
        if (state === 'passed') counts.passed += 1;
        else if (state === 'failed') counts.failed += 1;
        else counts.skipped += 1;
      }
      // A file that failed to load, or a hook that failed (its tests then read as skipped), must not read as green:
      // each file or suite with an error of its own counts as one failure.
      for (const suite of [testModule, ...testModule.children.allSuites()]) if (suite.errors().length > 0) counts.failed += 1;
    }
    // Where the suite's time goes (it must stay under 30 minutes on 2 cores): the slowest files, slowest first.
    const slowest = [...testModules].map((testModule) => ({ file: testModule.moduleId.split('/').slice(-2).join('/'), ms: testModule.diagnostic().duration })).sort((a, b) => b.ms - a.ms).slice(0, 12);
    process.stdout.write(`\nslowest files: ${slowest.map(({ file, ms }) => `${file} ${(ms / 1000).toFixed(0)} s`).join(', ')}\n`);
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
