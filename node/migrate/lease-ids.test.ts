import { leaseIds } from './etcd-snapshot.js';

const MAX = BigInt(Number.MAX_SAFE_INTEGER);

test('lease IDs up to 2^53-1 keep their number', () => {
  const ids = leaseIds([1n, MAX], [42n, 1n]);
  expect([...ids]).toEqual([
    [1n, 1],
    [MAX, Number.MAX_SAFE_INTEGER],
    [42n, 42],
  ]);
});

test("etcd's 64-bit IDs get their low 53 bits, or the next number free, the same whatever the order", () => {
  const big = 0x3ceea20e53128d09n; // as etcd 3.4 makes them: member bits, then a clock
  const low = Number(big & MAX);
  const clash = (big & MAX) | (1n << 63n); // the same low bits, and larger: it comes second
  const ids = leaseIds([big, BigInt(low + 1)], [clash, 7n]);
  expect(ids.get(big)).toBe(low);
  expect(ids.get(clash)).toBe(low + 2); // low is big's, low + 1 a small ID's
  expect(ids.get(BigInt(low + 1))).toBe(low + 1);
  expect(leaseIds([clash, 7n], [BigInt(low + 1), big])).toEqual(ids);
  expect(new Set(ids.values()).size).toBe(ids.size);
});

test('no ID becomes 0 (no lease) and the numbers wrap past 2^53-1', () => {
  const zeroLow = 1n << 53n; // low 53 bits all zero
  const topLow = (1n << 54n) | MAX; // low 53 bits are 2^53-1, which a small ID holds
  const ids = leaseIds([zeroLow, topLow, MAX, 1n], []);
  expect(ids.get(zeroLow)).toBe(2);
  expect(ids.get(topLow)).toBe(3);
});
