// Password hashes for the auth store: bcrypt, as etcd hashes them (`$2a$`, the cost from
// --bcrypt-cost, 10 by default as in etcd), so users and passwords move between raftkv and etcd
// with a snapshot either way. A member hashes a new password before proposing it, so the log, the
// WAL and snapshots hold only hashes, as etcd 3.5's do. Stores from raftkv before bcrypt hold
// scrypt hashes, which are still checked. Hashing and checking run in libuv's thread pool, off the
// event loop (@node-rs/bcrypt, node:crypto).
import { scrypt, timingSafeEqual } from 'node:crypto';
import { hash as bcryptHash, verify as bcryptVerify } from '@node-rs/bcrypt';

/** etcd's --bcrypt-cost: its default, and the bounds of Go's bcrypt. */
export const BCRYPT_COST = { default: 10, min: 4, max: 31 };
const BCRYPT = /^\$2[abxy]\$/;
const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((ok, fail) =>
    scrypt(password, salt, KEY_BYTES, { N: n, r, p, maxmem: 256 * n * r }, (err, key) =>
      err ? fail(err) : ok(key),
    ),
  );
}

export function hashPassword(password: string, cost = BCRYPT_COST.default): Promise<string> {
  return bcryptHash(password, { cost, version: '2a' });
}

/** Whether `password` matches `hash`; false for a hash this build cannot read. */
export async function checkPassword(password: string, hash: string): Promise<boolean> {
  if (BCRYPT.test(hash)) return bcryptVerify(password, hash);
  // An older raftkv's `scrypt$N$r$p$salt$key`, salt and key in base64.
  const [kind, n, r, p, salt, key] = hash.split('$');
  if (kind !== 'scrypt' || key === undefined) return false;
  const want = Buffer.from(key, 'base64');
  const got = await derive(password, Buffer.from(salt!, 'base64'), Number(n), Number(r), Number(p));
  return got.length === want.length && timingSafeEqual(got, want);
}
