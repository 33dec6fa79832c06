import {
  AUTH_ERR,
  NO_PASSWORD,
  applyAuthOp,
  emptyAuth,
  isAdmin,
  permitted,
  tokenStands,
  type AuthData,
  type AuthOp,
} from './state.js';

const b = (s: string) => Buffer.from(s);
const FROM_KEY = b('\0');
const NONE = new Uint8Array();

function run(...ops: AuthOp[]): AuthData {
  return ops.reduce(applyAuthOp, emptyAuth());
}

function refusal(d: AuthData, op: AuthOp): string {
  try {
    applyAuthOp(d, op);
  } catch (e) {
    return (e as Error).message;
  }
  return 'applied';
}

const withRoot: AuthOp[] = [
  { op: 'userAdd', name: 'root', hash: 'h' },
  { op: 'userGrantRole', user: 'root', role: 'root' },
];

describe('changes', () => {
  test('auth turns on only with a root user that has the root role, which may not be taken away then', () => {
    expect(refusal(emptyAuth(), { op: 'enable' })).toBe(AUTH_ERR.rootUserNotExist().message);
    const noRole = run({ op: 'userAdd', name: 'root', hash: 'h' });
    expect(refusal(noRole, { op: 'enable' })).toBe(AUTH_ERR.rootRoleNotExist().message);
    const on = run(...withRoot, { op: 'enable' });
    expect(on.enabled).toBe(true);
    expect(refusal(on, { op: 'userRevokeRole', name: 'root', role: 'root' })).toBe(
      AUTH_ERR.invalidAuthMgmt().message,
    );
    expect(refusal(on, { op: 'userDelete', name: 'root' })).toBe(AUTH_ERR.invalidAuthMgmt().message);
    expect(applyAuthOp(on, { op: 'disable' }).enabled).toBe(false);
  });

  test('each change takes a revision, one that changes nothing does not, and the input is left alone', () => {
    const before = run({ op: 'roleAdd', name: 'app' });
    const after = applyAuthOp(before, { op: 'userAdd', name: 'alice', hash: 'h' });
    expect(after.revision).toBe(before.revision + 1);
    expect(before.users).toEqual({});
    const granted = applyAuthOp(after, { op: 'userGrantRole', user: 'alice', role: 'app' });
    expect(applyAuthOp(granted, { op: 'userGrantRole', user: 'alice', role: 'app' }).revision).toBe(
      granted.revision,
    );
    expect(applyAuthOp(emptyAuth(), { op: 'disable' }).revision).toBe(emptyAuth().revision);
  });

  test("refusals carry etcd's messages", () => {
    const d = run({ op: 'userAdd', name: 'alice', hash: 'h' }, { op: 'roleAdd', name: 'app' });
    const cases: Array<[AuthOp, string]> = [
      [{ op: 'userAdd', name: '', hash: 'h' }, 'etcdserver: user name is empty'],
      [{ op: 'userAdd', name: 'alice', hash: 'h' }, 'etcdserver: user name already exists'],
      [{ op: 'userDelete', name: 'bob' }, 'etcdserver: user name not found'],
      [{ op: 'userGrantRole', user: 'alice', role: 'nope' }, 'etcdserver: role name not found'],
      [{ op: 'userRevokeRole', name: 'alice', role: 'app' }, 'etcdserver: role is not granted to the user'],
      [{ op: 'roleAdd', name: '' }, 'etcdserver: role name is empty'],
      [{ op: 'roleAdd', name: 'app' }, 'etcdserver: role name already exists'],
      [
        { op: 'roleRevokePermission', role: 'app', key: b('k'), range_end: NONE },
        'etcdserver: permission is not granted to the role',
      ],
    ];
    for (const [op, message] of cases) expect([op.op, refusal(d, op)]).toEqual([op.op, message]);
  });

  test('a deleted role leaves its users; a granted range again replaces its type', () => {
    let d = run(
      { op: 'userAdd', name: 'alice', hash: 'h' },
      { op: 'roleAdd', name: 'app' },
      { op: 'userGrantRole', user: 'alice', role: 'app' },
      { op: 'roleGrantPermission', name: 'app', perm: { permType: 'READ', key: b('a'), range_end: b('b') } },
      { op: 'roleGrantPermission', name: 'app', perm: { permType: 'WRITE', key: b('a'), range_end: b('b') } },
    );
    expect(d.roles.app!.map((p) => p.permType)).toEqual(['WRITE']);
    d = applyAuthOp(d, { op: 'roleDelete', role: 'app' });
    expect(d.users.alice!.roles).toEqual([]);
  });
});

describe('permissions', () => {
  const grant = (permType: 'READ' | 'WRITE' | 'READWRITE', key: string, end: Uint8Array | string) => ({
    op: 'roleGrantPermission' as const,
    name: 'app',
    perm: { permType, key: b(key), range_end: typeof end === 'string' ? b(end) : end },
  });
  const base: AuthOp[] = [
    { op: 'userAdd', name: 'alice', hash: 'h' },
    { op: 'roleAdd', name: 'app' },
    { op: 'userGrantRole', user: 'alice', role: 'app' },
  ];

  test('a range is granted when the granted ranges together cover all of it', () => {
    const d = run(...base, grant('READ', 'a', 'c'), grant('READWRITE', 'c', 'e'), grant('READ', 'x', NONE));
    const read = (key: string, end?: Uint8Array | string) =>
      permitted(d, 'alice', 'READ', b(key), typeof end === 'string' ? b(end) : end);
    expect(read('b')).toBe(true);
    expect(read('a', 'e')).toBe(true); // two adjacent grants
    expect(read('a', 'f')).toBe(false); // past the last
    expect(read('x')).toBe(true); // a single-key grant
    expect(read('x', 'y')).toBe(false); // is not the range after it
    expect(read('d', FROM_KEY)).toBe(false);
    expect(permitted(d, 'alice', 'WRITE', b('b'), undefined)).toBe(false);
    expect(permitted(d, 'alice', 'WRITE', b('c'), b('e'))).toBe(true);
  });

  test('a from-key grant covers every key after it, and a gap anywhere refuses', () => {
    const d = run(...base, grant('READ', 'a', 'b'), grant('READ', 'c', FROM_KEY));
    expect(permitted(d, 'alice', 'READ', b('c'), FROM_KEY)).toBe(true);
    expect(permitted(d, 'alice', 'READ', b('zzz'), undefined)).toBe(true);
    expect(permitted(d, 'alice', 'READ', b('a'), FROM_KEY)).toBe(false); // [b, c) is not granted
  });

  test('the root role grants everything; an unknown user nothing', () => {
    const d = run(...withRoot, ...base);
    expect(isAdmin(d, 'root')).toBe(true);
    expect(isAdmin(d, 'alice')).toBe(false);
    expect(permitted(d, 'root', 'WRITE', b('any'), FROM_KEY)).toBe(true);
    expect(permitted(d, 'bob', 'READ', b('any'), undefined)).toBe(false);
  });
});

describe('tokens', () => {
  test('a token stands while its user exists with the password it was granted under, or still has none', () => {
    const d = run({ op: 'userAdd', name: 'alice', hash: 'h1' }, { op: 'userAdd', name: 'cert' });
    expect(tokenStands(d, { user: 'alice', hash: 'h1' })).toBe(true);
    expect(
      tokenStands(applyAuthOp(d, { op: 'userChangePassword', name: 'alice', hash: 'h2' }), {
        user: 'alice',
        hash: 'h1',
      }),
    ).toBe(false);
    // A certificate's user without a password: its token holds NO_PASSWORD.
    expect(tokenStands(d, { user: 'cert', hash: NO_PASSWORD })).toBe(true);
    expect(tokenStands(d, { user: 'alice', hash: NO_PASSWORD })).toBe(false);
    expect(
      tokenStands(applyAuthOp(d, { op: 'userDelete', name: 'cert' }), { user: 'cert', hash: NO_PASSWORD }),
    ).toBe(false);
    expect(tokenStands(d, { user: 'bob', hash: NO_PASSWORD })).toBe(false);
  });
});
