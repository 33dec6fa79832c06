import { checkLinearizable } from './checker.js';
import { HistoryRecorder } from './history.js';

/** A clock that ticks once per reading, so every call and return gets its own instant. */
const ticking = (): (() => number) => {
  let now = 0;
  return () => ++now;
};

test('the recorder stamps calls and returns and keeps what the client learned', () => {
  const recorder = new HistoryRecorder(ticking());
  const put = recorder.invoke(1, 'x', 'put', { value: 'a' });
  const get = recorder.invoke(2, 'x', 'get', {}, { member: 'm1', serializable: true });
  put.ok({ ok: true });
  get.ok({ ok: true, value: 'a', revision: 2 });
  expect(recorder.history()).toEqual([
    {
      clientId: 1,
      key: 'x',
      kind: 'put',
      input: { value: 'a' },
      call: 1,
      ret: 3,
      output: { ok: true },
      status: 'ok',
    },
    {
      clientId: 2,
      key: 'x',
      kind: 'get',
      input: {},
      call: 2,
      ret: 4,
      output: { ok: true, value: 'a', revision: 2 },
      status: 'ok',
      member: 'm1',
      serializable: true,
    },
  ]);
});

test('failed, unknown and never-answered operations', () => {
  const recorder = new HistoryRecorder(ticking());
  recorder.invoke(1, 'x', 'put', { value: 'a' }).fail();
  recorder.invoke(1, 'x', 'put', { value: 'b' }).unknown();
  recorder.invoke(2, 'x', 'delete');
  expect(recorder.history().map(({ status, ret, output }) => ({ status, ret, output }))).toEqual([
    { status: 'fail', ret: 2, output: undefined },
    { status: 'unknown', ret: undefined, output: undefined },
    { status: 'unknown', ret: undefined, output: undefined },
  ]);
});

test('an operation completes once', () => {
  const handle = new HistoryRecorder(ticking()).invoke(1, 'x', 'get');
  handle.ok({ ok: true, value: null });
  expect(() => handle.unknown()).toThrow(/completed twice/);
});

test('the default clock is monotonic, and its histories check', () => {
  const recorder = new HistoryRecorder();
  for (let i = 0; i < 100; i++) {
    recorder.invoke(1, 'x', 'put', { value: `v${i}` }).ok({ ok: true });
    recorder.invoke(2, 'x', 'get').ok({ ok: true, value: `v${i}` });
  }
  const history = recorder.history();
  for (const [i, op] of history.entries()) {
    expect(op.ret!).toBeGreaterThanOrEqual(op.call);
    if (i > 0) expect(op.call).toBeGreaterThanOrEqual(history[i - 1]!.ret!);
  }
  expect(checkLinearizable(history, { deadlineMs: 5_000 }).result).toBe('ok');
});
