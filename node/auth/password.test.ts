import { hash as bcryptHash } from '@node-rs/bcrypt';
import { checkPassword, hashPassword } from './password.js';

test('a password set here is hashed with scrypt and checks against its hash only', async () => {
  const h = await hashPassword('s3cret');
  expect(h.startsWith('scrypt$')).toBe(true);
  expect(await checkPassword('s3cret', h)).toBe(true);
  expect(await checkPassword('s3cret!', h)).toBe(false);
  expect(await hashPassword('s3cret')).not.toBe(h); // salted
});

test("etcd's bcrypt hashes (users restored from an etcd snapshot) check too", async () => {
  // Go's bcrypt writes version 2a; cost 4 keeps the test quick (etcd's default is 10).
  const h = await bcryptHash('alicepw', { cost: 4, version: '2a' });
  expect(h.startsWith('$2a$04$')).toBe(true);
  expect(await checkPassword('alicepw', h)).toBe(true);
  expect(await checkPassword('alicepw ', h)).toBe(false);
});

test('a hash of a kind this build does not know never matches', async () => {
  expect(await checkPassword('x', 'md5$whatever')).toBe(false);
  expect(await checkPassword('x', '')).toBe(false);
});
