import { TokenTable } from './tokens.js';

test('a token lapses after the TTL without use, and each use restarts its time', () => {
  let now = 0;
  const t = new TokenTable(1000, () => now);
  t.add('a.1', { user: 'alice', hash: 'h' });
  now = 900;
  expect(t.holder('a.1')?.user).toBe('alice');
  now = 1800; // 900 after the last use
  expect(t.holder('a.1')?.user).toBe('alice');
  now = 2800;
  expect(t.holder('a.1')).toBeUndefined();
  expect(t.size).toBe(0);
});

test('lapsed tokens are dropped as the table grows, live ones kept', () => {
  let now = 0;
  const t = new TokenTable(1000, () => now);
  for (let i = 0; i < 1023; i++) t.add(`old.${i}`, { user: 'u', hash: 'h' });
  now = 5000;
  t.add('new.1', { user: 'u', hash: 'h' });
  expect(t.size).toBe(1);
  expect(t.holder('new.1')?.user).toBe('u');
});

test('a prefix is 16 lowercase letters', () => {
  expect(TokenTable.prefix()).toMatch(/^[a-z]{16}$/);
  expect(TokenTable.prefix()).not.toBe(TokenTable.prefix());
});
