// Password hashes for the auth store: scrypt from node:crypto for every password set here. A
// member hashes a new password before proposing it, so the log, the WAL and snapshots hold only
// hashes, as etcd 3.5's do. Users restored from an etcd snapshot keep etcd's bcrypt hashes, so
// those are checked too (@node-rs/bcrypt). Hashing and checking run in libuv's thread pool, off
// the event loop.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { verify as bcryptVerify } from '@node-rs/bcrypt';

/** scrypt's cost (N = 2^14, r = 8: 16 MiB and some tens of milliseconds per hash). */
const N = 1 << 14;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
/** etcd's hashes: `$2a$` (Go's bcrypt), or another bcrypt version. */
const BCRYPT = /^\$2[abxy]\$/;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((ok, fail) =>
    scrypt(password, salt, KEY_BYTES, { N: n, r, p, maxmem: 256 * n * r }, (err, key) =>
      err ? fail(err) : ok(key),
    ),
  );
}

/** `scrypt$N$r$p$salt$key`, salt and key in base64. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return ['scrypt', N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Whether `password` matches `hash`; false for a hash this build cannot read. */
export async function checkPassword(password: string, hash: string): Promise<boolean> {
  if (BCRYPT.test(hash)) return bcryptVerify(password, hash);
  const [kind, n, r, p, salt, key] = hash.split('$');
  if (kind !== 'scrypt' || key === undefined) return false;
  const want = Buffer.from(key, 'base64');
  const got = await derive(password, Buffer.from(salt!, 'base64'), Number(n), Number(r), Number(p));
  return got.length === want.length && timingSafeEqual(got, want);
}
