// etcd's simple tokens: an Authenticate entry, once applied, gives every member the same token for
// the user, kept in memory (a restart forgets them, and clients authenticate again, as etcd's do).
// A token lapses after `ttlMs` without use; each use restarts its time (etcd's --auth-token-ttl).
// It holds the user's password hash as of its grant, so a new password ends it (etcd ends a
// user's tokens then too).
import { randomBytes } from 'node:crypto';

export interface Holder {
  user: string;
  /** The user's password hash when the token was granted. */
  hash: string;
}

interface Held extends Holder {
  expires: number;
}

export class TokenTable {
  private readonly tokens = new Map<string, Held>();
  /** Lapsed tokens are dropped when the table reaches this size, which then doubles. */
  private sweepAt = 1024;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A token is 16 random letters, picked by the member that checks the password, then a dot and
   * the index of the log entry that grants it (etcd's form).
   */
  static prefix(): string {
    return Array.from(randomBytes(16), (b) => String.fromCharCode(97 + (b % 26))).join('');
  }

  add(token: string, holder: Holder): void {
    this.tokens.set(token, { ...holder, expires: this.now() + this.ttlMs });
    if (this.tokens.size >= this.sweepAt) {
      this.sweep();
      this.sweepAt = Math.max(1024, this.tokens.size * 2);
    }
  }

  /** Who holds the token, if it is known and has not lapsed; the use restarts its time. */
  holder(token: string): Holder | undefined {
    const held = this.tokens.get(token);
    if (!held) return undefined;
    const now = this.now();
    if (held.expires <= now) {
      this.tokens.delete(token);
      return undefined;
    }
    held.expires = now + this.ttlMs;
    return held;
  }

  /** Forgets every token (auth was turned off: turning it on again must not revive them). */
  clear(): void {
    this.tokens.clear();
  }

  get size(): number {
    return this.tokens.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [token, held] of this.tokens) if (held.expires <= now) this.tokens.delete(token);
  }
}
