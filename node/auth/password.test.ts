import { hash as bcryptHash } from '@node-rs/bcrypt';
import { checkPassword, hashPassword } from './password.js';

test("a password set here is hashed as etcd hashes it (bcrypt 2a, etcd's cost unless given) and checks against its hash only", async () => {
  const h = await hashPassword('s3cret');
  expect(h.startsWith('$2a$10$')).toBe(true);
  expect(await checkPassword('s3cret', h)).toBe(true);
  expect(await checkPassword('s3cret!', h)).toBe(false);
  expect(await hashPassword('s3cret')).not.toBe(h); // salted
  const cheap = await hashPassword('s3cret', 4);
  expect(cheap.startsWith('$2a$04$')).toBe(true);
  expect(await checkPassword('s3cret', cheap)).toBe(true);
});

test("etcd's bcrypt hashes (users restored from an etcd snapshot) check too", async () => {
  // Go's bcrypt writes version 2a; cost 4 keeps the test quick (etcd's default is 10).
  const h = await bcryptHash('alicepw', { cost: 4, version: '2a' });
  expect(await checkPassword('alicepw', h)).toBe(true);
  expect(await checkPassword('alicepw ', h)).toBe(false);
});

test('scrypt hashes that raftkv stored before it used bcrypt still check', async () => {
  const older = 'scrypt$16384$8$1$cmFmdGt2LWZpeHR1cmUtcw==$OtdqjdrtyVo3lkPFhJsDZrkrTWQuSOuTXdTNMw3rs80=';
  expect(await checkPassword('old-pw', older)).toBe(true);
  expect(await checkPassword('old-pw!', older)).toBe(false);
});

test('a hash of a kind this build does not know never matches', async () => {
  expect(await checkPassword('x', 'md5$whatever')).toBe(false);
  expect(await checkPassword('x', 'bcrypt$whatever')).toBe(false);
  expect(await checkPassword('x', '')).toBe(false);
});
