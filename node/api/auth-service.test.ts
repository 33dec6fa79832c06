// Who a request runs as, and the token a follower passes a certificate user's call on with, over
// a stand-in member (its auth store and its Authenticate through the log) and real JWT keys.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JwtTokens } from '../auth/jwt.js';
import { AUTH_ERR, NO_PASSWORD, applyAuthOp, emptyAuth, type AuthData, type AuthOp } from '../auth/state.js';
import { TokenTable } from '../auth/tokens.js';
import type { Member } from '../server/member.js';
import { AuthService, type Caller } from './auth-service.js';

const ops: AuthOp[] = [
  { op: 'userAdd', name: 'root', hash: 'root-hash' },
  { op: 'userGrantRole', user: 'root', role: 'root' },
  { op: 'userAdd', name: 'alice' },
  { op: 'enable' },
];
const ON = ops.reduce(applyAuthOp, emptyAuth());

/** An AuthService over `auth`; `granted` lists the Authenticate entries its member proposed. */
function service(auth: AuthData, jwt?: JwtTokens) {
  const granted: Array<[string, string]> = [];
  const member = {
    kv: { auth: () => auth },
    tokens: new TokenTable(60_000),
    linearizableBarrier: async () => {},
    authenticate: async (user: string, hash: string) => {
      granted.push([user, hash]);
      return `granted.${granted.length}`;
    },
  } as unknown as Member;
  const kv = { member, header: () => ({}) as never, write: async () => ({}) as never };
  return { auth: new AuthService(kv, 4, jwt), granted };
}

async function hs256(): Promise<JwtTokens> {
  const file = join(mkdtempSync(join(tmpdir(), 'raftkv-auth-service-')), 'secret');
  writeFileSync(file, randomBytes(32));
  return JwtTokens.load({ signMethod: 'HS256', privKeyFile: file, ttlMs: 60_000 });
}

const cert = (certUser: string): Caller => ({ certUser });
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: Error) => e.message,
  );

test('without a token the certificate names the user; a token comes first; auth off, nobody', async () => {
  const { auth } = service(ON);
  expect(await auth.identify(cert('alice'))).toEqual({ user: 'alice' });
  expect(await auth.identify(cert('nobody'))).toEqual({ user: 'nobody' });
  expect(await refusal(auth.identify({ token: 'bad', certUser: 'root' }))).toBe(
    AUTH_ERR.invalidToken().message,
  );
  expect(await refusal(auth.identify({}))).toBe(AUTH_ERR.userEmpty().message);
  expect(await service(emptyAuth()).auth.identify(cert('root'))).toEqual({ user: '' });
});

test('a certificate user is passed on with a token granted through the log, a no-password user too', async () => {
  const { auth, granted } = service(ON);
  expect(await auth.tokenFor({ token: 'mine', certUser: 'root' })).toBe('mine');
  expect(await auth.tokenFor(cert('root'))).toBe('granted.1');
  expect(await auth.tokenFor(cert('alice'))).toBe('granted.2');
  expect(granted).toEqual([
    ['root', 'root-hash'],
    ['alice', NO_PASSWORD],
  ]);
  expect(await auth.tokenFor({})).toBeUndefined();
  expect(await service(emptyAuth()).auth.tokenFor(cert('root'))).toBeUndefined();
});

test('with JWT keys the token is signed for the user at the auth store’s revision', async () => {
  const jwt = await hs256();
  const { auth, granted } = service(ON, jwt);
  const token = await auth.tokenFor(cert('alice'));
  expect(await jwt.verify(token!)).toEqual({ user: 'alice', revision: ON.revision });
  expect(granted).toEqual([]);
});

test('a password sent for a user without one gets etcd’s own refusal', async () => {
  const { auth } = service(ON);
  expect(await refusal(auth.authenticate('alice', 'x'))).toBe(
    'auth: authentication failed, password was given for no password user',
  );
  expect(await refusal(auth.authenticate('bob', 'x'))).toBe(AUTH_ERR.authFailed().message);
});
