// Operation records for the linearizability checker, and a recorder that stamps them with a
// monotonic clock as clients run. One record per client request against one key.

export type OpKind = 'get' | 'put' | 'delete' | 'cas';

export interface OpInput {
  /** The value a put writes, or a cas writes on success. */
  value?: string;
  /** The value a cas compares against; null means "the key must be absent". */
  expect?: string | null;
}

export interface OpOutput {
  /** Whether a cas succeeded; true for puts and deletes that were acknowledged. */
  ok: boolean;
  /** What a get read; null means the key was absent. */
  value?: string | null;
  /** The store revision the response was served at (serializable-read checks need it). */
  revision?: number;
}

/**
 * 'fail' proves the operation did not take effect (it is dropped from the history); 'unknown'
 * means no answer, so it may take effect at any point after its call, with any output.
 */
export type OpStatus = 'ok' | 'fail' | 'unknown';

export interface Operation {
  clientId: number;
  key: string;
  kind: OpKind;
  input: OpInput;
  call: number;
  /** undefined or Infinity: no response. */
  ret: number | undefined;
  output?: OpOutput;
  status: OpStatus;
  /** The member that served the request, for per-session checks of serializable reads. */
  member?: string;
  /** A read served from the member's local state, without a quorum round. */
  serializable?: boolean;
}

export interface OpHandle {
  ok(output: OpOutput): void;
  fail(): void;
  unknown(): void;
}

export type Clock = () => number;

/** Nanoseconds since the recorder was made: hrtime is monotonic, unlike Date.now(). */
function hrtimeClock(): Clock {
  const origin = process.hrtime.bigint();
  return () => Number(process.hrtime.bigint() - origin);
}

export class HistoryRecorder {
  private readonly ops: Operation[] = [];

  constructor(private readonly clock: Clock = hrtimeClock()) {}

  invoke(
    clientId: number,
    key: string,
    kind: OpKind,
    input: OpInput = {},
    session: { member?: string; serializable?: boolean } = {},
  ): OpHandle {
    // Pending until answered: a client that never hears back leaves an unknown operation.
    const op: Operation = {
      clientId,
      key,
      kind,
      input,
      call: this.clock(),
      ret: undefined,
      status: 'unknown',
    };
    if (session.member !== undefined) op.member = session.member;
    if (session.serializable !== undefined) op.serializable = session.serializable;
    this.ops.push(op);
    let done = false;
    const finish = (status: OpStatus, output?: OpOutput): void => {
      if (done) throw new Error(`operation ${describeOp(op)} completed twice`);
      done = true;
      op.status = status;
      if (status === 'unknown') return;
      op.ret = this.clock();
      if (output !== undefined) op.output = output;
    };
    return {
      ok: (output) => finish('ok', output),
      fail: () => finish('fail'),
      unknown: () => finish('unknown'),
    };
  }

  /** A snapshot of the records so far; still-pending operations appear as unknown. */
  history(): Operation[] {
    return this.ops.map((op) => ({ ...op }));
  }
}

/** One line per operation for counterexamples, e.g. `c2 cas(k, 'a'→'b') [5, 9] = false`. */
export function describeOp(op: Operation): string {
  const q = (v: string | null | undefined): string => (v === null || v === undefined ? 'absent' : `'${v}'`);
  const args =
    op.kind === 'put'
      ? `, ${q(op.input.value)}`
      : op.kind === 'cas'
        ? `, ${q(op.input.expect)}→${q(op.input.value)}`
        : '';
  const ret = op.ret === undefined || op.ret === Infinity ? '∞' : String(op.ret);
  const out =
    op.status !== 'ok'
      ? op.status
      : op.kind === 'get'
        ? q(op.output?.value)
        : op.kind === 'cas'
          ? String(op.output?.ok)
          : 'ok';
  return `c${op.clientId} ${op.kind}(${op.key}${args}) [${op.call}, ${ret}] = ${out}`;
}
