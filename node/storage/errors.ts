/** The log on disk is damaged in a way a crash cannot explain; the member must not serve from it. */
export class WalCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`WAL corrupt: ${file} at offset ${offset}: ${reason}`);
    this.name = 'WalCorruptionError';
  }
}
