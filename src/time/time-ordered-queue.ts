// A queue of things due at instants, taken earliest first and, at one instant, in the order they were put: timers and simulated events.

interface Entry<T> {
  atMs: number;
  seq: number;
  item: T;
}

/** A binary min-heap on (atMs, insertion order): O(log n) put and take, so a million timers stay cheap. */
export class TimeOrderedQueue<T> {
  private readonly heap: Array<Entry<T>> = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  put(atMs: number, item: T): void {
    const heap = this.heap;
    heap.push({ atMs, seq: this.seq++, item });
    let child = heap.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!earlier(heap[child] as Entry<T>, heap[parent] as Entry<T>)) break;
      [heap[child], heap[parent]] = [heap[parent] as Entry<T>, heap[child] as Entry<T>];
      child = parent;
    }
  }

  /** The earliest entry, left in the queue. */
  peek(): { atMs: number; item: T } | undefined {
    return this.heap[0];
  }

  /** Removes and returns the earliest entry. */
  take(): { atMs: number; item: T } | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let parent = 0;
    for (;;) {
      const left = parent * 2 + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < heap.length && earlier(heap[left] as Entry<T>, heap[smallest] as Entry<T>)) smallest = left;
      if (right < heap.length && earlier(heap[right] as Entry<T>, heap[smallest] as Entry<T>)) smallest = right;
      if (smallest === parent) break;
      [heap[parent], heap[smallest]] = [heap[smallest] as Entry<T>, heap[parent] as Entry<T>];
      parent = smallest;
    }
    return top;
  }
}

function earlier<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
