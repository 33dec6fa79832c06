// etcd's auth store as data: users with password hashes and roles, roles with key-range
// permissions, whether auth is on, and a revision bumped by every change. Changes arrive as
// committed Raft entries (the store applies them with `applyAuthOp`), so every member holds the
// same state; `permitted` and `isAdmin` answer the questions etcd's authStore answers, with its
// refusals and their words.
import { MvccError } from '../mvcc/types.js';
import { compareBytes, isFromKey, isSingleKey } from '../mvcc/key-range.js';

export type PermType = 'READ' | 'WRITE' | 'READWRITE';

export interface Permission {
  permType: PermType;
  key: Uint8Array;
  /** etcd's range_end: empty for the single key, one zero byte for every key from `key` on. */
  range_end: Uint8Array;
}

export interface User {
  /** From password.ts; absent for a user that authenticates only by client certificate. */
  hash?: string;
  /** Sorted. */
  roles: string[];
}

export interface AuthData {
  enabled: boolean;
  revision: number;
  users: Record<string, User>;
  /** Each role's permissions, in key order. */
  roles: Record<string, Permission[]>;
}

/** A change to the auth store, as it travels in the log (passwords already hashed). */
export type AuthOp =
  | { op: 'enable' }
  | { op: 'disable' }
  | { op: 'userAdd'; name: string; hash?: string }
  | { op: 'userDelete'; name: string }
  | { op: 'userChangePassword'; name: string; hash?: string }
  | { op: 'userGrantRole'; user: string; role: string }
  | { op: 'userRevokeRole'; name: string; role: string }
  | { op: 'roleAdd'; name: string }
  | { op: 'roleDelete'; role: string }
  | { op: 'roleGrantPermission'; name: string; perm: Permission }
  | { op: 'roleRevokePermission'; role: string; key: Uint8Array; range_end: Uint8Array };

export const ROOT = 'root';

const refusal = (code: MvccError['code'], message: string) => () =>
  new MvccError(code, `etcdserver: ${message}`);

/** etcd's auth errors (rpctypes), with the gRPC code each carries. */
export const AUTH_ERR = {
  userEmpty: refusal('invalid', 'user name is empty'),
  userExists: refusal('failedPrecondition', 'user name already exists'),
  userNotFound: refusal('failedPrecondition', 'user name not found'),
  roleEmpty: refusal('invalid', 'role name is empty'),
  roleExists: refusal('failedPrecondition', 'role name already exists'),
  roleNotFound: refusal('failedPrecondition', 'role name not found'),
  roleNotGranted: refusal('failedPrecondition', 'role is not granted to the user'),
  permissionNotGranted: refusal('failedPrecondition', 'permission is not granted to the role'),
  rootUserNotExist: refusal('failedPrecondition', 'root user does not exist'),
  rootRoleNotExist: refusal('failedPrecondition', 'root user does not have root role'),
  authNotEnabled: refusal('failedPrecondition', 'authentication is not enabled'),
  invalidAuthMgmt: refusal('invalid', 'invalid auth management'),
  authFailed: refusal('invalid', 'authentication failed, invalid user ID or password'),
  permissionDenied: refusal('permissionDenied', 'permission denied'),
  invalidToken: refusal('unauthenticated', 'invalid auth token'),
  oldRevision: refusal('invalid', 'revision of auth store is old'),
  /** etcd has no rpctypes error for this one: its gRPC code is Unknown, and it lacks the prefix. */
  noPasswordUser: () =>
    new MvccError('unknown', 'auth: authentication failed, password was given for no password user'),
};

export function emptyAuth(): AuthData {
  return { enabled: false, revision: 1, users: {}, roles: {} };
}

/** The state after `op`, or the refusal etcd gives; `data` itself is left as it was. */
export function applyAuthOp(data: AuthData, op: AuthOp): AuthData {
  const next: AuthData = structuredClone(data);
  const changed = change(next, op);
  if (changed) next.revision++;
  return next;
}

/** Applies `op` to `d` in place; false when it changes nothing (as etcd, no new revision then). */
function change(d: AuthData, op: AuthOp): boolean {
  switch (op.op) {
    case 'enable': {
      if (d.enabled) return false;
      const root = d.users[ROOT];
      if (!root) throw AUTH_ERR.rootUserNotExist();
      if (!root.roles.includes(ROOT)) throw AUTH_ERR.rootRoleNotExist();
      d.enabled = true;
      return true;
    }
    case 'disable':
      if (!d.enabled) return false;
      d.enabled = false;
      return true;
    case 'userAdd':
      if (!op.name) throw AUTH_ERR.userEmpty();
      if (d.users[op.name]) throw AUTH_ERR.userExists();
      d.users[op.name] = { ...(op.hash === undefined ? {} : { hash: op.hash }), roles: [] };
      return true;
    case 'userDelete':
      if (d.enabled && op.name === ROOT) throw AUTH_ERR.invalidAuthMgmt();
      userOf(d, op.name);
      delete d.users[op.name];
      return true;
    case 'userChangePassword': {
      const u = userOf(d, op.name);
      if (op.hash === undefined) delete u.hash;
      else u.hash = op.hash;
      return true;
    }
    case 'userGrantRole': {
      const u = userOf(d, op.user);
      if (op.role !== ROOT && !d.roles[op.role]) throw AUTH_ERR.roleNotFound();
      if (u.roles.includes(op.role)) return false;
      u.roles = [...u.roles, op.role].sort();
      return true;
    }
    case 'userRevokeRole': {
      if (d.enabled && op.name === ROOT && op.role === ROOT) throw AUTH_ERR.invalidAuthMgmt();
      const u = userOf(d, op.name);
      if (!u.roles.includes(op.role)) throw AUTH_ERR.roleNotGranted();
      u.roles = u.roles.filter((r) => r !== op.role);
      return true;
    }
    case 'roleAdd':
      if (!op.name) throw AUTH_ERR.roleEmpty();
      if (d.roles[op.name]) throw AUTH_ERR.roleExists();
      d.roles[op.name] = [];
      return true;
    case 'roleDelete':
      if (d.enabled && op.role === ROOT) throw AUTH_ERR.invalidAuthMgmt();
      if (!d.roles[op.role]) throw AUTH_ERR.roleNotFound();
      delete d.roles[op.role];
      for (const u of Object.values(d.users)) u.roles = u.roles.filter((r) => r !== op.role);
      return true;
    case 'roleGrantPermission': {
      const perms = d.roles[op.name];
      if (!perms) throw AUTH_ERR.roleNotFound();
      const same = perms.find((p) => sameRange(p, op.perm.key, op.perm.range_end));
      if (same) same.permType = op.perm.permType;
      else {
        perms.push(op.perm);
        perms.sort((a, b) => compareBytes(a.key, b.key) || compareBytes(a.range_end, b.range_end));
      }
      return true;
    }
    case 'roleRevokePermission': {
      const perms = d.roles[op.role];
      if (!perms) throw AUTH_ERR.roleNotFound();
      const i = perms.findIndex((p) => sameRange(p, op.key, op.range_end));
      if (i < 0) throw AUTH_ERR.permissionNotGranted();
      perms.splice(i, 1);
      return true;
    }
  }
}

function userOf(d: AuthData, name: string): User {
  const u = d.users[name];
  if (!u) throw AUTH_ERR.userNotFound();
  return u;
}

function sameRange(p: Permission, key: Uint8Array, rangeEnd: Uint8Array): boolean {
  return compareBytes(p.key, key) === 0 && compareBytes(p.range_end, rangeEnd) === 0;
}

/** What a token granted to a user without a password holds for the hash (no bcrypt hash is empty). */
export const NO_PASSWORD = '';

/**
 * Whether a token granted to `user` under password `hash` still stands: the user exists and has
 * not changed password since (etcd ends a user's tokens then).
 */
export function tokenStands(d: AuthData, holder: { user: string; hash: string }): boolean {
  const u = d.users[holder.user];
  return u !== undefined && (u.hash ?? NO_PASSWORD) === holder.hash;
}

/** A JWT's revision (none for simple tokens) from before the auth store's last change. */
export function isOld(d: AuthData, tokenRevision: number | undefined): boolean {
  return tokenRevision !== undefined && tokenRevision < d.revision;
}

/** Holds the root role: may do anything, including managing auth and members. */
export function isAdmin(d: AuthData, user: string): boolean {
  return d.users[user]?.roles.includes(ROOT) ?? false;
}

/**
 * Whether `user`'s roles together grant `need` on [key, rangeEnd) (etcd's range forms). A range is
 * granted when the union of the user's granted ranges covers all of it, as etcd's merged
 * interval check does.
 */
export function permitted(
  d: AuthData,
  user: string,
  need: 'READ' | 'WRITE',
  key: Uint8Array,
  rangeEnd: Uint8Array | undefined,
): boolean {
  const u = d.users[user];
  if (!u) return false;
  if (u.roles.includes(ROOT)) return true;
  const spans: Array<[Uint8Array, Uint8Array | null]> = [];
  for (const role of u.roles) {
    for (const p of d.roles[role] ?? []) {
      if (p.permType === need || p.permType === 'READWRITE') spans.push(span(p.key, p.range_end));
    }
  }
  const [lo, hi] = span(key, rangeEnd);
  return covered(spans, lo, hi);
}

/** [start, end) with end null for "no upper bound"; a single key k is [k, k + "\0"). */
function span(key: Uint8Array, rangeEnd: Uint8Array | undefined): [Uint8Array, Uint8Array | null] {
  if (isSingleKey(rangeEnd)) return [key, Buffer.concat([key, Buffer.from([0])])];
  if (isFromKey(rangeEnd)) return [key, null];
  return [key, rangeEnd!];
}

/** Whether the spans together cover [lo, hi): walk them in start order, extending the covered prefix. */
function covered(
  spans: Array<[Uint8Array, Uint8Array | null]>,
  lo: Uint8Array,
  hi: Uint8Array | null,
): boolean {
  spans.sort((a, b) => compareBytes(a[0], b[0]));
  let reach: Uint8Array | null = lo; // everything in [lo, reach) is covered; null: all beyond lo
  for (const [s, e] of spans) {
    if (reach === null) break;
    if (compareBytes(s, reach) > 0) break; // a gap at reach
    if (e === null || compareBytes(e, reach) > 0) reach = e;
  }
  if (reach === null) return true;
  return hi !== null && compareBytes(reach, hi) >= 0;
}
