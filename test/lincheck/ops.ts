// Terse constructors for hand-made histories in the tests: op(client, call, ret), key 'x' unless given.
import type { Operation } from './history.js';

type Span = [clientId: number, call: number, ret: number];

const base = ([clientId, call, ret]: Span, key: string) => ({
  clientId,
  key,
  call,
  ret,
  status: 'ok' as const,
});

export const put = (span: Span, value: string, key = 'x'): Operation => ({
  ...base(span, key),
  kind: 'put',
  input: { value },
  output: { ok: true },
});

export const get = (span: Span, value: string | null, key = 'x'): Operation => ({
  ...base(span, key),
  kind: 'get',
  input: {},
  output: { ok: true, value },
});

export const del = (span: Span, key = 'x'): Operation => ({
  ...base(span, key),
  kind: 'delete',
  input: {},
  output: { ok: true },
});

export const cas = (span: Span, expect: string | null, value: string, ok: boolean, key = 'x'): Operation => ({
  ...base(span, key),
  kind: 'cas',
  input: { expect, value },
  output: { ok },
});

/** No answer ever came: the operation may or may not have happened. */
export const unanswered = (op: Operation): Operation => ({
  ...op,
  status: 'unknown',
  ret: undefined,
  output: undefined,
});

/** An error that proves the operation did not happen. */
export const failed = (op: Operation): Operation => ({ ...op, status: 'fail', output: undefined });
