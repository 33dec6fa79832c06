// The gateway's /v3/auth/ paths: etcd's Auth calls (auth-calls.ts) with JSON requests.
import type { AuthService, Caller } from './auth-service.js';
import { authCalls, type Fields } from './auth-calls.js';
import { asObject, bool, bytes, field } from './json.js';

type Obj = Record<string, unknown>;

function jsonFields(o: Obj): Fields {
  return {
    str: (name) => {
      const v = field(o, name);
      return v === undefined || v === null ? '' : String(v);
    },
    bytes: (name) => bytes(o, name) ?? new Uint8Array(),
    bool: (name) => bool(o, name) ?? false,
    sub: (name) => {
      const v = field(o, name);
      return jsonFields(v === undefined || v === null ? {} : asObject(v, name));
    },
  };
}

export function authRoutes(
  auth: AuthService,
): Array<[string, (body: unknown, caller: Caller) => Promise<unknown>]> {
  return authCalls(auth).map(({ path, call }) => [
    path,
    (body, caller) => call(jsonFields(asObject(body, 'request')), caller),
  ]);
}
