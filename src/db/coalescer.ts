// Coalesces concurrent calls into shared database round trips (natural batching, as in group commit): calls made
// while `maxInFlight` batches are already running wait and go together in the next one. A call is only ever sent in a
// batch that starts after it was made, so it sees everything committed before it. At low load a batch holds one call
// and is sent on the next turn of the event loop, so batching adds no timer and no measurable latency.
export interface CoalescerOptions {
  maxBatch: number;
  maxInFlight: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O | Promise<O>) => void;
  reject: (err: unknown) => void;
}

export class Coalescer<I, O> {
  private queue: Pending<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;

  /**
   * `run` answers one output per input, in order; an output may be a promise of its own, so that one call can fail
   * alone. If `run` throws, every call of that batch rejects with the error.
   */
  constructor(
    private readonly run: (items: I[]) => Promise<(O | Promise<O>)[]>,
    private readonly opts: CoalescerOptions,
  ) {}

  call(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every request parsed in this poll phase joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight += 1;
      this.run(batch.map((p) => p.item)).then(
        (outputs) => batch.forEach((p, i) => p.resolve(outputs[i]!)),
        (err) => batch.forEach((p) => p.reject(err)),
      ).finally(() => {
        this.inFlight -= 1;
        this.schedule();
      });
    }
  }
}

/** One coalescer per pool (or other owner) and purpose, created on first use. */
export function coalescerFor<I, O>(
  registry: WeakMap<object, Coalescer<I, O>>,
  owner: object,
  make: () => Coalescer<I, O>,
): Coalescer<I, O> {
  let c = registry.get(owner);
  if (!c) registry.set(owner, (c = make()));
  return c;
}
