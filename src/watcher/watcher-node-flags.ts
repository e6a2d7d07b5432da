// The Node (V8) flags the watcher's own process runs with, wherever rayfleet starts it: `watcher start` and `up` here, the head's launcher on Cloudera AI.

/**
 * A young generation of at most 4 MB a half (Node's default is 16) and an old generation allowed to grow 30 % past
 * what the last full collection kept. At 10,000 nodes a tick reads a 3.6 MB reply and lists and joins 10,000 nodes:
 * with V8's defaults the heap grew to twice what it held, and peak RSS in the watcher's own loop was about 190 MB;
 * with these about 145 (bench:scale, "the watcher's own loop"). The price is more collections inside a tick.
 */
export const WATCHER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=30'];

/** How the flags reach the head's launcher (launchers/ray_launcher.py), which starts the watcher with the venv's Node. */
export const WATCHER_NODE_FLAGS_ENV = 'RAYFLEET_WATCHER_NODE_FLAGS';
