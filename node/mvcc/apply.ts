// Applying one write request inside the batch's lmdb transaction, with etcd's semantics: a request
// that changes anything takes the next revision; a txn's compares and checks all run against the
// state before it, and nothing is written unless all of them pass.
import { applyAuthOp, type AuthOp } from '../auth/state.js';
import { checkWrite } from '../auth/write-check.js';
import type { Backend } from './backend.js';
import { compact } from './compaction.js';
import { compare } from './compare.js';
import { LeaseTable } from './leases.js';
import { range } from './range.js';
import { checkTxnRequest } from './txn-check.js';
import { checkKey, checkRevision } from './validate.js';
import { KeyView } from './view.js';
import { RevisionWriter, type BatchState } from './writer.js';
import {
  ERR,
  MvccError,
  type AlarmRequest,
  type AlarmResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type PutRequest,
  type PutResponse,
  type RequestOp,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
  type WriteRequest,
  type WriteResponse,
} from './types.js';

export interface ApplyLimits {
  quotaBytes: number;
}

/** The branch a txn takes, decided up front like etcd does, with the same for its nested txns. */
interface TxnPlan {
  succeeded: boolean;
  ops: RequestOp[];
  nested: Array<TxnPlan | undefined>;
}

const EMPTY = new Uint8Array(0);

export class Applier {
  private readonly leases: LeaseTable;

  constructor(
    private readonly db: Backend,
    private readonly state: BatchState,
    private readonly limits: ApplyLimits,
  ) {
    this.leases = new LeaseTable(db);
  }

  /**
   * Throws MvccError when etcd would refuse the request, always before its first write: every
   * check runs up front, so a refused request leaves nothing to undo. (lmdb child transactions
   * could undo instead, but they cost more than the writes themselves.)
   */
  apply(req: WriteRequest): WriteResponse {
    const meta = this.state.meta;
    const auth = this.db.auth();
    if (auth.enabled && req.user !== undefined) {
      checkWrite(auth, req.user, req, (id) => this.leases.keys(id));
    }
    if ('auth' in req) return this.changeAuth(req.auth);
    if ('compaction' in req) return compact(this.db, meta, req.compaction.revision);
    if ('alarm' in req) return this.alarm(req.alarm);
    if ('lease_grant' in req) return this.leaseGrant(req.lease_grant);
    const w = new RevisionWriter(this.db, this.state, meta.revision + 1);
    let res: WriteResponse;
    try {
      if ('put' in req) res = this.put(w, req.put);
      else if ('delete_range' in req) res = this.deleteRange(w, req.delete_range);
      else if ('lease_revoke' in req) res = this.leaseRevoke(w, req.lease_revoke);
      else res = this.txn(w, req.txn);
    } catch (e) {
      // A refusal after a write would leave half a request behind: abort the batch instead.
      if (e instanceof MvccError && w.changed) throw new Error(`mvcc: refused after writing: ${e.message}`);
      throw e;
    }
    if (w.changed) {
      meta.revision = w.revision;
      if (meta.usage > this.limits.quotaBytes && !meta.alarms.includes('NOSPACE')) {
        meta.alarms = [...meta.alarms, 'NOSPACE'];
      }
    }
    setHeaderRevision(res, meta.revision);
    return res;
  }

  /** A change to the auth store; it takes no revision of the key space. */
  private changeAuth(op: AuthOp): WriteResponse {
    const before = this.db.auth();
    const after = applyAuthOp(before, op);
    if (after.revision !== before.revision) this.db.writeAuth(after);
    return { header: { revision: this.state.meta.revision } };
  }

  /** The state as of now, including what the current request has written so far. */
  private view(w?: RevisionWriter): KeyView {
    return new KeyView(this.db, w?.changed ? w.revision : this.state.meta.revision);
  }

  private put(w: RevisionWriter, req: PutRequest): PutResponse {
    checkKey(req.key, undefined, this.db.maxKeySize);
    this.checkSpace();
    this.checkPut(this.view(), req);
    return this.writePut(w, req);
  }

  private checkSpace(): void {
    if (this.state.meta.alarms.includes('NOSPACE')) throw ERR.nospace();
  }

  /** ignore_value and ignore_lease keep the key's current ones, so the key must exist; a lease must exist. */
  private checkPut(view: KeyView, req: PutRequest): void {
    if ((req.ignore_value || req.ignore_lease) && !view.get(req.key)) throw ERR.keyNotFound();
    if (!req.ignore_lease && req.lease && !this.leases.get(req.lease)) throw ERR.leaseNotFound();
  }

  private writePut(w: RevisionWriter, req: PutRequest): PutResponse {
    const prev = this.view(w).get(req.key);
    const value = req.ignore_value ? prev!.value : (req.value ?? EMPTY);
    const lease = req.ignore_lease ? prev!.lease : (req.lease ?? 0);
    w.put(req.key, value, lease, prev);
    const res: PutResponse = { header: { revision: w.revision } };
    if (req.prev_kv && prev) res.prev_kv = prev;
    return res;
  }

  private deleteRange(w: RevisionWriter, req: DeleteRangeRequest): DeleteRangeResponse {
    checkKey(req.key, req.range_end, this.db.maxKeySize);
    return this.writeDelete(w, req);
  }

  private writeDelete(w: RevisionWriter, req: DeleteRangeRequest): DeleteRangeResponse {
    const { kvs } = this.view(w).scan(req.key, req.range_end);
    for (const kv of kvs) w.delete(kv);
    return { header: { revision: w.revision }, deleted: kvs.length, prev_kvs: req.prev_kv ? kvs : [] };
  }

  private txn(w: RevisionWriter, req: TxnRequest): TxnResponse {
    checkTxnRequest(req, this.db.maxKeySize);
    // Like etcd's capped applier: while NOSPACE is raised, any txn that could put is refused.
    if (hasPut(req)) this.checkSpace();
    const before = this.view();
    const plan = planTxn(before, req);
    this.checkPlan(before, plan);
    return this.runTxn(w, plan);
  }

  private checkPlan(before: KeyView, plan: TxnPlan): void {
    plan.ops.forEach((op, i) => {
      if ('request_put' in op) this.checkPut(before, op.request_put);
      else if ('request_txn' in op) this.checkPlan(before, plan.nested[i]!);
      else if ('request_range' in op && (op.request_range.revision ?? 0) > 0) {
        checkRevision(op.request_range.revision!, before.revision, this.state.meta.compacted);
      }
    });
  }

  private runTxn(w: RevisionWriter, plan: TxnPlan): TxnResponse {
    const responses = plan.ops.map((op, i): ResponseOp => {
      if ('request_range' in op) {
        return { response_range: range(this.view(w), this.state.meta.compacted, op.request_range) };
      }
      if ('request_put' in op) return { response_put: this.writePut(w, op.request_put) };
      if ('request_delete_range' in op) {
        return { response_delete_range: this.writeDelete(w, op.request_delete_range) };
      }
      return { response_txn: this.runTxn(w, plan.nested[i]!) };
    });
    return { header: { revision: w.revision }, succeeded: plan.succeeded, responses };
  }

  private leaseGrant(req: LeaseGrantRequest): LeaseGrantResponse {
    if (!Number.isSafeInteger(req.ID) || req.ID <= 0) throw ERR.malformed(`lease ID ${req.ID}`);
    if (!Number.isSafeInteger(req.TTL) || req.TTL <= 0) throw ERR.malformed(`lease TTL ${req.TTL}`);
    this.checkSpace(); // like etcd's capped applier
    if (this.leases.get(req.ID)) throw ERR.leaseExists();
    this.leases.grant(req.ID, req.TTL);
    return { header: { revision: this.state.meta.revision }, ID: req.ID, TTL: req.TTL };
  }

  /** Deletes the lease's keys (one revision, like a txn of deletes), then the lease. */
  private leaseRevoke(w: RevisionWriter, req: LeaseRevokeRequest): LeaseRevokeResponse {
    if (!this.leases.get(req.ID)) throw ERR.leaseNotFound();
    const view = this.view();
    for (const key of this.leases.keys(req.ID)) {
      const kv = view.get(key);
      if (kv) w.delete(kv);
    }
    this.leases.remove(req.ID);
    return { header: { revision: w.revision } };
  }

  private alarm(req: AlarmRequest): AlarmResponse {
    const meta = this.state.meta;
    const others = meta.alarms.filter((a) => a !== req.alarm);
    meta.alarms = req.action === 'ACTIVATE' ? [...others, req.alarm] : others;
    return { header: { revision: meta.revision }, alarms: [...meta.alarms] };
  }
}

function planTxn(view: KeyView, req: TxnRequest): TxnPlan {
  const succeeded = (req.compare ?? []).every((c) => compare(view, c));
  const ops = (succeeded ? req.success : req.failure) ?? [];
  return {
    succeeded,
    ops,
    nested: ops.map((op) => ('request_txn' in op ? planTxn(view, op.request_txn) : undefined)),
  };
}

function hasPut(req: TxnRequest): boolean {
  return [...(req.success ?? []), ...(req.failure ?? [])].some(
    (op) => 'request_put' in op || ('request_txn' in op && hasPut(op.request_txn)),
  );
}

/** Every response in a write, nested ones included, reports the revision after the write. */
function setHeaderRevision(res: WriteResponse, revision: number): void {
  res.header.revision = revision;
  if (!('responses' in res)) return;
  for (const op of res.responses) setHeaderRevision(Object.values(op)[0] as WriteResponse, revision);
}
