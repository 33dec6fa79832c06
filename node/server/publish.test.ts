// The publish schedule with simulated time: proposed at the first leader, proposed again after each
// retry interval while the member table does not list the URLs, and done once it does.
import { publishStep } from './publish.js';

test('publishes at the first leader, again after each retry interval until listed, then never', () => {
  const retryMs = 1000;
  let proposedAt = -Infinity;
  const proposals: number[] = [];
  const step = (now: number, hasLeader: boolean, listed: boolean) => {
    const s = publishStep({ listed, hasLeader, now, proposedAt, retryMs });
    if (s === 'propose') {
      proposals.push(now);
      proposedAt = now;
    }
    return s;
  };
  expect(step(0, false, false)).toBe('wait'); // no leader to send it to
  expect(step(100, true, false)).toBe('propose');
  for (let now = 200; now < 1100; now += 100) expect(step(now, true, false)).toBe('wait');
  expect(step(1100, true, false)).toBe('propose'); // the first was lost with its leader
  expect(step(1600, false, false)).toBe('wait');
  expect(step(2100, false, false)).toBe('wait'); // due, but no leader
  expect(step(2200, true, false)).toBe('propose');
  expect(step(2300, true, true)).toBe('published');
  expect(step(9999, false, true)).toBe('published');
  expect(proposals).toEqual([100, 1100, 2200]);
});
