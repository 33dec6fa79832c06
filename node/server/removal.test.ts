// When a member told it was removed exits, case by case (the first check runs two election
// timeouts after the news, then one per election timeout).
import { removalDecision, type RemovalView } from './removal.js';

const view = (v: Partial<RemovalView>): RemovalView => ({
  how: 'refused',
  inConfiguration: true,
  leaderSinceRefusal: false,
  checksLeft: 3,
  ...v,
});

test('a member its own log removed exits, unless the log added it back since', () => {
  expect(removalDecision(view({ how: 'applied', inConfiguration: false }))).toBe('exit');
  expect(removalDecision(view({ how: 'applied', inConfiguration: true }))).toBe('stay');
});

test('refused by a peer while out of its own configuration: exits at once', () => {
  expect(removalDecision(view({ inConfiguration: false, leaderSinceRefusal: true }))).toBe('exit');
});

test('refused by a stale peer: stays once a leader has replicated to it since', () => {
  // The 15-minute soak's case (seed 20261124): the member led when a new member replaying an
  // old removal refused it; leadership went to that member, which was removed 140 ms later;
  // two election timeouts after the refusal no leader had been heard for 570 ms. The rule then,
  // "a leader within the last election timeout", made it exit; one heard since the refusal counts.
  expect(removalDecision(view({ leaderSinceRefusal: true }))).toBe('stay');
});

test('refused and no leader since: checks again, and exits when the checks run out', () => {
  expect(removalDecision(view({ checksLeft: 1 }))).toBe('check again');
  expect(removalDecision(view({ checksLeft: 0 }))).toBe('exit');
});
