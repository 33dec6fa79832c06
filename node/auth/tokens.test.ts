import { checkPassword, hashPassword } from './password.js';
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

test('a password matches its hash only; each hash has its own salt', async () => {
  const h = await hashPassword('s3cret');
  expect(h).not.toContain('s3cret');
  expect(await checkPassword('s3cret', h)).toBe(true);
  expect(await checkPassword('s3cret!', h)).toBe(false);
  expect(await hashPassword('s3cret')).not.toBe(h);
  expect(await checkPassword('s3cret', 'bcrypt$whatever')).toBe(false);
});
