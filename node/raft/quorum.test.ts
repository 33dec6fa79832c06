// Majority arithmetic, checked exhaustively over small configurations against its definition.
import { committedIndex, quorumSize } from './quorum.js';

/** The definition: sorted from highest, the quorum-th match. */
function reference(matches: number[]): number {
  if (matches.length === 0) return 0;
  return [...matches].sort((a, b) => b - a)[quorumSize(matches.length) - 1]!;
}

/** Every vector of `n` matches, each in 0..max. */
function* vectors(n: number, max: number): Generator<number[]> {
  if (n === 0) {
    yield [];
    return;
  }
  for (const rest of vectors(n - 1, max)) for (let m = 0; m <= max; m++) yield [...rest, m];
}

test('the committed index is the highest match a quorum of voters has reached', () => {
  let cases = 0;
  for (let n = 0; n <= 5; n++) {
    for (const matches of vectors(n, 4)) {
      const voters = matches.map((_, i) => `v${i}`);
      const got = committedIndex(voters, (id) => matches[Number(id.slice(1))]!);
      if (got !== reference(matches)) throw new Error(`matches ${matches.join(',')}: got ${got}`);
      cases++;
    }
  }
  expect(cases).toBe(1 + 5 + 25 + 125 + 625 + 3125);
});

test('a quorum is a strict majority', () => {
  expect([1, 2, 3, 4, 5, 6, 7].map(quorumSize)).toEqual([1, 2, 2, 3, 3, 4, 4]);
});
