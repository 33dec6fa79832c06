// Which permissions a write request needs, checked when it is applied (against the auth store as
// of that entry, so a permission revoked before it in the log refuses it), as etcd's auth applier
// does: a put needs WRITE on its key (and READ with prev_kv), a delete WRITE on its range, a txn
// READ on every compared key and whatever each operation of both branches needs, and revoking a
// lease (or putting with one) WRITE on each key the lease holds. A JWT signed before the last
// change to the auth store may not write at all (changes to the store itself need only root).
import type { DeleteRangeRequest, PutRequest, RequestOp, TxnRequest, WriteRequest } from '../mvcc/types.js';
import { AUTH_ERR, isAdmin, isOld, permitted, type AuthData } from './state.js';

/** Throws etcd's refusal when `user` may not make `req`; auth must be enabled. */
export function checkWrite(
  d: AuthData,
  user: string,
  req: WriteRequest,
  leaseKeys: (id: number) => Uint8Array[],
): void {
  if (!user) throw AUTH_ERR.userEmpty();
  if (!d.users[user]) throw AUTH_ERR.permissionDenied();
  if ('auth' in req) {
    if (!isAdmin(d, user)) throw AUTH_ERR.permissionDenied();
    return;
  }
  if (isOld(d, req.authRevision)) throw AUTH_ERR.oldRevision();
  const need = (type: 'READ' | 'WRITE', key: Uint8Array, end?: Uint8Array) => {
    if (!permitted(d, user, type, key, end)) throw AUTH_ERR.permissionDenied();
  };
  const leaseWrites = (id: number | undefined) => {
    if (id) for (const k of leaseKeys(id)) need('WRITE', k);
  };
  const put = (r: PutRequest) => {
    need('WRITE', r.key);
    if (r.prev_kv) need('READ', r.key);
    leaseWrites(r.lease);
  };
  const del = (r: DeleteRangeRequest) => {
    need('WRITE', r.key, r.range_end);
    if (r.prev_kv) need('READ', r.key, r.range_end);
  };
  const txn = (r: TxnRequest) => {
    for (const c of r.compare ?? []) need('READ', c.key, c.range_end);
    for (const op of [...(r.success ?? []), ...(r.failure ?? [])]) requestOp(op);
  };
  const requestOp = (op: RequestOp) => {
    if ('request_range' in op) need('READ', op.request_range.key, op.request_range.range_end);
    else if ('request_put' in op) put(op.request_put);
    else if ('request_delete_range' in op) del(op.request_delete_range);
    else txn(op.request_txn);
  };
  if ('put' in req) put(req.put);
  else if ('delete_range' in req) del(req.delete_range);
  else if ('txn' in req) txn(req.txn);
  else if ('lease_revoke' in req) leaseWrites(req.lease_revoke.ID);
  // compaction, alarms and lease grants need only an authenticated user, as in etcd
}
