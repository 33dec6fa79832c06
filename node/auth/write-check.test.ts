import type { WriteRequest } from '../mvcc/types.js';
import { applyAuthOp, emptyAuth, type AuthData, type AuthOp } from './state.js';
import { checkWrite } from './write-check.js';

const b = (s: string) => Buffer.from(s);

/** alice may read [a, w) and write [w, x); root is root. */
const d: AuthData = (
  [
    { op: 'userAdd', name: 'root', hash: 'h' },
    { op: 'userGrantRole', user: 'root', role: 'root' },
    { op: 'userAdd', name: 'alice', hash: 'h' },
    { op: 'roleAdd', name: 'app' },
    { op: 'userGrantRole', user: 'alice', role: 'app' },
    { op: 'roleGrantPermission', name: 'app', perm: { permType: 'READ', key: b('a'), range_end: b('w') } },
    { op: 'roleGrantPermission', name: 'app', perm: { permType: 'WRITE', key: b('w'), range_end: b('x') } },
    { op: 'enable' },
  ] as AuthOp[]
).reduce(applyAuthOp, emptyAuth());

const leaseKeys: Record<number, Uint8Array[]> = { 1: [b('w1')], 2: [b('w1'), b('y')] };

function verdict(user: string, req: WriteRequest): string {
  try {
    checkWrite(d, user, req, (id) => leaseKeys[id] ?? []);
    return 'ok';
  } catch (e) {
    return (e as Error).message;
  }
}

const DENIED = 'etcdserver: permission denied';

test('puts and deletes need WRITE, and READ too with prev_kv', () => {
  expect(verdict('alice', { put: { key: b('w1'), value: b('v') } })).toBe('ok');
  expect(verdict('alice', { put: { key: b('b'), value: b('v') } })).toBe(DENIED);
  expect(verdict('alice', { delete_range: { key: b('w'), range_end: b('x') } })).toBe('ok');
  expect(verdict('alice', { delete_range: { key: b('w'), range_end: b('y') } })).toBe(DENIED);
  expect(verdict('alice', { put: { key: b('w1'), value: b('v'), prev_kv: true } })).toBe(DENIED);
  expect(verdict('alice', { delete_range: { key: b('w1'), prev_kv: true } })).toBe(DENIED);
});

test('a txn needs READ on its compares and what every op of both branches needs', () => {
  const txn = (failureKey: string): WriteRequest => ({
    txn: {
      compare: [{ key: b('c'), target: 'VERSION', result: 'EQUAL', version: 0 }],
      success: [{ request_put: { key: b('w1'), value: b('v') } }],
      failure: [{ request_txn: { success: [{ request_put: { key: b(failureKey), value: b('v') } }] } }],
    },
  });
  expect(verdict('alice', txn('w2'))).toBe('ok');
  // The branch not taken is checked too, nested txns included.
  expect(verdict('alice', txn('c'))).toBe(DENIED);
  const compareOutside: WriteRequest = {
    txn: { compare: [{ key: b('zz'), target: 'VERSION', result: 'EQUAL', version: 0 }] },
  };
  expect(verdict('alice', compareOutside)).toBe(DENIED);
});

test("revoking a lease, or putting with it, needs WRITE on each of the lease's keys", () => {
  expect(verdict('alice', { lease_revoke: { ID: 1 } })).toBe('ok');
  expect(verdict('alice', { lease_revoke: { ID: 2 } })).toBe(DENIED);
  expect(verdict('alice', { put: { key: b('w2'), value: b('v'), lease: 2 } })).toBe(DENIED);
});

test('auth changes need root; no user is refused as etcd does, an unknown one is denied', () => {
  expect(verdict('alice', { auth: { op: 'roleAdd', name: 'x' } })).toBe(DENIED);
  expect(verdict('root', { auth: { op: 'roleAdd', name: 'x' } })).toBe('ok');
  expect(verdict('root', { put: { key: b('anything'), value: b('v') } })).toBe('ok');
  expect(verdict('', { put: { key: b('w1'), value: b('v') } })).toBe('etcdserver: user name is empty');
  expect(verdict('mallory', { compaction: { revision: 1 } })).toBe(DENIED);
});

test('a JWT signed before the auth store’s last change writes nothing; root still changes the store with it', () => {
  const put = { put: { key: b('w1'), value: b('v') } };
  expect(verdict('alice', { ...put, authRevision: d.revision })).toBe('ok');
  expect(verdict('alice', { ...put, authRevision: d.revision - 1 })).toBe(
    'etcdserver: revision of auth store is old',
  );
  expect(verdict('root', { auth: { op: 'roleAdd', name: 'ops' }, authRevision: d.revision - 1 })).toBe('ok');
});
