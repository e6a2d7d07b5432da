// The Node (V8) flags the watcher's own process runs with, wherever rayfleet starts it: `watcher start` and `up` here, the head's launcher on Cloudera AI.

/**
 * A young generation of at most 8 MB a half (Node's default is 16) and an old generation allowed to grow 30 % past
 * what the last full collection kept. At 10,000 nodes a tick reads a 3.6 MB reply and lists and joins 10,000 nodes:
 * with V8's defaults the heap grew to twice what it held and the watcher's peak RSS in its own loop was 190–270 MB;
 * with these 143–154 (bench:scale, seven runs). The price is more collections inside a tick: the acting tick's median
 * was 60–107 ms with V8's defaults, 69–94 with these, 94–103 with 4 MB halves (three or four runs each).
 *
 * And one thread for V8's background work, where Node gives it four whatever the machine: the watcher is a
 * background service beside Ray, and on 2 cores four helper threads splitting every young-generation collection
 * cost more than they saved. bench:scale at 10,000 nodes, runs alternated within 20 minutes: acting tick median
 * 68.5–113.1 ms (median of 5 runs 76.9) against 85.4–132.6 (7 runs, 97.8) with four; its CPU time 107–143 ms against
 * 122–166; RSS in the watcher's own loop 141–145 MB against 142–158. Turning the collector's threads off altogether
 * (`--single-threaded-gc`) was as fast but held 146–156 MB.
 */
export const WATCHER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=30', '--v8-pool-size=1'];
