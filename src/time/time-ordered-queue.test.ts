// TimeOrderedQueue: earliest first, ties in insertion order, at any size.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../providers/memory/seeded-random.js';
import { TimeOrderedQueue } from './time-ordered-queue.js';

describe('TimeOrderedQueue', () => {
  it('takes entries earliest first and, at one instant, in the order they were put', () => {
    const queue = new TimeOrderedQueue<string>();
    queue.put(30, 'c');
    queue.put(10, 'a1');
    queue.put(20, 'b');
    queue.put(10, 'a2');
    expect(queue.peek()).toMatchObject({ atMs: 10, item: 'a1' });
    const order: string[] = [];
    for (let entry = queue.take(); entry !== undefined; entry = queue.take()) order.push(entry.item);
    expect(order).toEqual(['a1', 'a2', 'b', 'c']);
    expect(queue.size).toBe(0);
    expect(queue.take()).toBeUndefined();
  });

  it('sorts many entries as a stable sort would', () => {
    const random = seededRandom(5);
    const queue = new TimeOrderedQueue<number>();
    const entries = Array.from({ length: 5_000 }, (_, index) => ({ atMs: Math.floor(random() * 100), index }));
    for (const entry of entries) queue.put(entry.atMs, entry.index);
    const taken: number[] = [];
    for (let entry = queue.take(); entry !== undefined; entry = queue.take()) taken.push(entry.item);
    expect(taken).toEqual([...entries].sort((a, b) => a.atMs - b.atMs || a.index - b.index).map((entry) => entry.index));
  });
});
