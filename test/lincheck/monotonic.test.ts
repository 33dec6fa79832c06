import type { Operation } from './history.js';
import { checkSerializableReads, describeViolation } from './monotonic.js';
import { cas, failed, get, put, unanswered } from './ops.js';

/** A serializable read by `client` from `member`, answered at `revision`. */
const read = (
  client: number,
  member: string,
  at: number,
  value: string | null,
  revision: number,
): Operation => ({
  ...get([client, at, at + 1], value),
  output: { ok: true, value, revision },
  member,
  serializable: true,
});

const writes = [put([1, 0, 1], 'a'), put([1, 2, 3], 'b')];
const kinds = (history: Operation[]) => checkSerializableReads(history).violations.map((v) => v.kind);

test('stale but monotonic sessions pass', () => {
  const history = [
    ...writes,
    read(2, 'm1', 10, null, 1),
    read(2, 'm1', 12, 'a', 2),
    read(2, 'm1', 14, 'a', 2),
    // Another member may lag behind the first: sessions are per member.
    read(2, 'm2', 16, 'a', 2),
    read(3, 'm2', 18, 'b', 3),
  ];
  expect(checkSerializableReads(history)).toEqual({ ok: true, violations: [] });
});

test('a session going back in revision is caught, in call order whatever the record order', () => {
  const newer = read(2, 'm1', 10, 'b', 3);
  const older = read(2, 'm1', 12, 'a', 2);
  const result = checkSerializableReads([...writes, older, newer]);
  expect(result.ok).toBe(false);
  expect(result.violations).toEqual([{ kind: 'backwards', op: older, previous: newer }]);
  expect(describeViolation(result.violations[0]!)).toBe(
    "c2 get(x) [12, 13] = 'a' at revision 2 went back from c2 get(x) [10, 11] = 'b' at revision 3",
  );
});

test('a value nothing wrote is caught; failed writes and failed swaps wrote nothing', () => {
  expect(kinds([...writes, read(2, 'm1', 10, 'ghost', 3)])).toEqual(['unwritten']);
  expect(kinds([failed(put([1, 4, 5], 'c')), read(2, 'm1', 10, 'c', 3)])).toEqual(['unwritten']);
  expect(kinds([cas([1, 4, 5], 'z', 'c', false), read(2, 'm1', 10, 'c', 3)])).toEqual(['unwritten']);
  // A value written under another key does not count either.
  expect(kinds([put([1, 4, 5], 'c', 'y'), read(2, 'm1', 10, 'c', 3)])).toEqual(['unwritten']);
});

test('values an unanswered write or a successful swap may have written are fine', () => {
  expect(kinds([unanswered(put([1, 4, 5], 'c')), read(2, 'm1', 10, 'c', 3)])).toEqual([]);
  expect(kinds([cas([1, 4, 5], null, 'c', true), read(2, 'm1', 10, 'c', 3)])).toEqual([]);
});

test('two reads of one key at one revision must agree, across sessions', () => {
  const history = [...writes, read(2, 'm1', 10, 'a', 2), read(3, 'm2', 10, 'b', 2)];
  expect(kinds(history)).toEqual(['diverged']);
  expect(describeViolation(checkSerializableReads(history).violations[0]!)).toMatch(/disagree at revision 2/);
});

test('only answered serializable reads are checked, and they need a revision', () => {
  const linearizable = get([2, 10, 11], 'ghost');
  expect(kinds([...writes, linearizable, unanswered(read(2, 'm1', 12, 'ghost', 1))])).toEqual([]);
  const noRevision = { ...read(2, 'm1', 10, 'a', 1), output: { ok: true, value: 'a' } };
  expect(() => checkSerializableReads([...writes, noRevision])).toThrow(/without a revision/);
});
