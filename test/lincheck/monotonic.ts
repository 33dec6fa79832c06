// Serializable reads are served from one member's local state, so they may be stale and are not
// linearizable. They still promise something: within a session (one client talking to one
// member) they never go back in time, they only return values someone wrote, and a revision
// names one state of the store, so two reads of a key at the same revision agree.
import { describeOp, type Operation } from './history.js';

export type ReadViolation =
  | { kind: 'backwards'; op: Operation; previous: Operation }
  | { kind: 'unwritten'; op: Operation }
  | { kind: 'diverged'; op: Operation; other: Operation };

export function checkSerializableReads(history: readonly Operation[]): {
  ok: boolean;
  violations: ReadViolation[];
} {
  const reads = history.filter((op) => op.kind === 'get' && op.serializable === true && op.status === 'ok');
  const violations = [...goingBackwards(reads), ...unwritten(history, reads), ...diverged(reads)];
  return { ok: violations.length === 0, violations };
}

export function describeViolation(v: ReadViolation): string {
  switch (v.kind) {
    case 'backwards':
      return `${describeOp(v.op)} at revision ${revision(v.op)} went back from ${describeOp(v.previous)} at revision ${revision(v.previous)}`;
    case 'unwritten':
      return `${describeOp(v.op)} read a value nothing wrote`;
    case 'diverged':
      return `${describeOp(v.op)} and ${describeOp(v.other)} disagree at revision ${revision(v.op)}`;
  }
}

function revision(op: Operation): number {
  const r = op.output?.revision;
  if (r === undefined) throw new Error(`serializable read without a revision: ${describeOp(op)}`);
  return r;
}

function* goingBackwards(reads: Operation[]): Generator<ReadViolation> {
  const sessions = new Map<string, Operation[]>();
  for (const op of reads) {
    const id = `${op.clientId}\0${op.member ?? ''}`;
    const session = sessions.get(id);
    if (session === undefined) sessions.set(id, [op]);
    else session.push(op);
  }
  for (const session of sessions.values()) {
    // A client's requests are sequential, so call order is the session's order.
    session.sort((a, b) => a.call - b.call);
    let newest: Operation | undefined;
    for (const op of session) {
      if (newest !== undefined && revision(op) < revision(newest))
        yield { kind: 'backwards', op, previous: newest };
      else newest = op;
    }
  }
}

function* unwritten(history: readonly Operation[], reads: Operation[]): Generator<ReadViolation> {
  // Anything that may have been written: answered puts and successful cas, and unanswered ones.
  const written = new Set<string>();
  for (const op of history) {
    const mayHaveWritten =
      op.status === 'unknown' || (op.status === 'ok' && (op.kind === 'put' || op.output?.ok === true));
    if ((op.kind === 'put' || op.kind === 'cas') && mayHaveWritten && op.input.value !== undefined) {
      written.add(`${op.key}\0${op.input.value}`);
    }
  }
  for (const op of reads) {
    const value = op.output?.value;
    if (typeof value === 'string' && !written.has(`${op.key}\0${value}`)) yield { kind: 'unwritten', op };
  }
}

function* diverged(reads: Operation[]): Generator<ReadViolation> {
  const seen = new Map<string, Operation>();
  for (const op of reads) {
    const at = `${op.key}\0${revision(op)}`;
    const other = seen.get(at);
    if (other === undefined) seen.set(at, op);
    else if (other.output?.value !== op.output?.value) yield { kind: 'diverged', op, other };
  }
}
