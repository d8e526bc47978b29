/**
 * Collects items (answer tokens, steps) and hands them over at most once per animation frame, so a fast
 * stream of tokens costs one screen update per frame rather than one per token.
 */
export interface FrameQueue<T> {
  push(item: T): void;
  /** Hands over what is waiting now (e.g. before the final result replaces it). */
  flush(): void;
  /** Drops what is waiting and the scheduled frame. */
  cancel(): void;
}

type Schedule = (callback: () => void) => unknown;
type Unschedule = (handle: unknown) => void;

function scheduler(): { schedule: Schedule; unschedule: Unschedule } {
  if (typeof requestAnimationFrame === 'function') {
    return {
      schedule: (cb) => requestAnimationFrame(() => cb()),
      unschedule: (h) => cancelAnimationFrame(h as number),
    };
  }
  return {
    schedule: (cb) => setTimeout(cb, 16),
    unschedule: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  };
}

export function createFrameQueue<T>(apply: (items: T[]) => void): FrameQueue<T> {
  const { schedule, unschedule } = scheduler();
  let items: T[] = [];
  let handle: unknown = null;

  function flush(): void {
    if (handle !== null) unschedule(handle);
    handle = null;
    const batch = items;
    items = [];
    if (batch.length > 0) apply(batch);
  }

  return {
    push(item) {
      items.push(item);
      if (handle === null) handle = schedule(flush);
    },
    flush,
    cancel() {
      if (handle !== null) unschedule(handle);
      handle = null;
      items = [];
    },
  };
}
