// A child process for the failpoint test: passes one point and says whether it lived through it.
import { failpoint, type FailpointName } from '../../src/fault/failpoints.js';

process.stdout.write('before\n');
failpoint((process.argv[2] ?? 'local.after-claim') as FailpointName);
process.stdout.write('after\n');
