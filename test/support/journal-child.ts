// A child process for journal fault tests: appends one event to the journal at FILE and exits (or dies at its failpoint).
import { Journal } from '../../src/journal/journal.js';

const [file, node] = process.argv.slice(2);
if (file === undefined || node === undefined) throw new Error('usage: journal-child FILE NODE');
await new Journal(file, 'ray').append({ type: 'launch-failed', node, group: 'worker', reason: 'exited before it joined Ray' });
