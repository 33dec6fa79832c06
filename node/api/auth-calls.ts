// etcd's Auth service, one table for both APIs: each call's gRPC method, its gateway path, and what
// it does with the request's fields. The APIs differ only in how a request's fields are read
// (gRPC gives bytes, the gateway base64), which each supplies as `Fields`.
import type { PermType } from '../auth/state.js';
import type { AuthService, Caller } from './auth-service.js';
import { BadRequest } from './json.js';

/** A request's fields, absent ones read as proto3's zero values. */
export interface Fields {
  str(name: string): string;
  bytes(name: string): Uint8Array;
  bool(name: string): boolean;
  /** A nested message. */
  sub(name: string): Fields;
}

export interface AuthCall {
  rpc: string;
  path: string;
  call: (f: Fields, caller: Caller) => Promise<unknown>;
}

const PERM_TYPES: readonly PermType[] = ['READ', 'WRITE', 'READWRITE'];

/** authpb.Permission's type, by name or by number. */
function permType(v: string): PermType {
  const t = PERM_TYPES[Number(v)] ?? PERM_TYPES.find((p) => p === v);
  if (t === undefined) throw new BadRequest(`permType must be one of ${PERM_TYPES.join(', ')}`);
  return t;
}

export function authCalls(auth: AuthService): AuthCall[] {
  const c = (rpc: string, path: string, call: AuthCall['call']): AuthCall => ({
    rpc,
    path: `/v3/auth/${path}`,
    call,
  });
  return [
    c('AuthEnable', 'enable', (_f, who) => auth.change({ op: 'enable' }, who)),
    c('AuthDisable', 'disable', (_f, who) => auth.change({ op: 'disable' }, who)),
    c('AuthStatus', 'status', async () => auth.status()),
    c('Authenticate', 'authenticate', (f) => auth.authenticate(f.str('name'), f.str('password'))),
    c('UserAdd', 'user/add', (f, who) =>
      auth.userAdd(f.str('name'), f.str('password'), f.sub('options').bool('no_password'), who),
    ),
    c('UserGet', 'user/get', (f, who) => auth.userGet(f.str('name'), who)),
    c('UserList', 'user/list', (_f, who) => auth.userList(who)),
    c('UserDelete', 'user/delete', (f, who) => auth.change({ op: 'userDelete', name: f.str('name') }, who)),
    c('UserChangePassword', 'user/changepw', (f, who) =>
      auth.userChangePassword(f.str('name'), f.str('password'), who),
    ),
    c('UserGrantRole', 'user/grant', (f, who) =>
      auth.change({ op: 'userGrantRole', user: f.str('user'), role: f.str('role') }, who),
    ),
    c('UserRevokeRole', 'user/revoke', (f, who) =>
      auth.change({ op: 'userRevokeRole', name: f.str('name'), role: f.str('role') }, who),
    ),
    c('RoleAdd', 'role/add', (f, who) => auth.change({ op: 'roleAdd', name: f.str('name') }, who)),
    c('RoleGet', 'role/get', (f, who) => auth.roleGet(f.str('role'), who)),
    c('RoleList', 'role/list', (_f, who) => auth.roleList(who)),
    c('RoleDelete', 'role/delete', (f, who) => auth.change({ op: 'roleDelete', role: f.str('role') }, who)),
    c('RoleGrantPermission', 'role/grant', (f, who) => {
      const p = f.sub('perm');
      const perm = {
        permType: permType(p.str('permType')),
        key: p.bytes('key'),
        range_end: p.bytes('range_end'),
      };
      return auth.roleGrantPermission(f.str('name'), perm, who);
    }),
    c('RoleRevokePermission', 'role/revoke', (f, who) =>
      auth.change(
        {
          op: 'roleRevokePermission',
          role: f.str('role'),
          key: f.bytes('key'),
          range_end: f.bytes('range_end'),
        },
        who,
      ),
    ),
  ];
}
