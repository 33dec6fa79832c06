// Requests waiting for their proposal to be applied, by request id, each with a deadline.
export class RequestTimeoutError extends Error {
  constructor() {
    super('etcdserver: request timed out');
    this.name = 'RequestTimeoutError';
  }
}

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class Waiters<T> {
  private readonly pending = new Map<string, Waiter<T>>();

  constructor(private readonly timeoutMs: number) {}

  wait(id: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestTimeoutError());
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  resolve(id: string, value: T): void {
    const w = this.pending.get(id);
    if (!w) return;
    this.pending.delete(id);
    clearTimeout(w.timer);
    w.resolve(value);
  }

  reject(id: string, err: Error): void {
    const w = this.pending.get(id);
    if (!w) return;
    this.pending.delete(id);
    clearTimeout(w.timer);
    w.reject(err);
  }

  rejectAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.reject(id, err);
  }

  has(id: string): boolean {
    return this.pending.has(id);
  }

  get size(): number {
    return this.pending.size;
  }
}
