// etcd's static checks on a txn, before anything runs: empty keys, and two operations that could
// write the same key in one pass (two puts, or a put inside a deleted range). Puts in the success
// and failure branches of one nested txn may share keys: only one branch runs. The operation
// budget (--max-txn-ops) is checked apart, by the member a client calls, as etcd's API layer
// does: members may have different budgets, and what one accepted every member applies alike.
import { asBuffer, inRange } from './key-range.js';
import { checkKey } from './validate.js';
import { ERR, type DeleteRangeRequest, type RequestOp, type TxnRequest } from './types.js';

export function checkTxnRequest(req: TxnRequest, maxKeySize: number): void {
  checkKeys(req, maxKeySize);
  checkIntervals(req.success ?? []);
  checkIntervals(req.failure ?? []);
}

/** etcd's --max-txn-ops: compares, success ops or failure ops; a nested txn spends what its parent left. */
export function checkTxnOps(req: TxnRequest, maxOps: number): void {
  const ops = Math.max(req.compare?.length ?? 0, req.success?.length ?? 0, req.failure?.length ?? 0);
  if (ops > maxOps) throw ERR.tooManyOps();
  for (const op of [...(req.success ?? []), ...(req.failure ?? [])]) {
    if ('request_txn' in op) checkTxnOps(op.request_txn, maxOps - ops);
  }
}

function checkKeys(req: TxnRequest, maxKeySize: number): void {
  for (const c of req.compare ?? []) checkKey(c.key, c.range_end, maxKeySize);
  for (const op of [...(req.success ?? []), ...(req.failure ?? [])]) {
    if ('request_txn' in op) checkKeys(op.request_txn, maxKeySize);
    else if ('request_put' in op) checkKey(op.request_put.key, undefined, maxKeySize);
    else if ('request_range' in op) checkKey(op.request_range.key, op.request_range.range_end, maxKeySize);
    else checkKey(op.request_delete_range.key, op.request_delete_range.range_end, maxKeySize);
  }
}

interface Writes {
  /** Put keys as latin1 strings (one char per byte). */
  puts: Set<string>;
  dels: DeleteRangeRequest[];
}

function checkIntervals(ops: RequestOp[]): Writes {
  const dels = ops.flatMap((op) => ('request_delete_range' in op ? [op.request_delete_range] : []));
  const puts = new Set<string>();
  const deleted = (k: string) => dels.some((d) => inRange(Buffer.from(k, 'latin1'), d.key, d.range_end));
  for (const op of ops) {
    if (!('request_txn' in op)) continue;
    const then = checkIntervals(op.request_txn.success ?? []);
    const otherwise = checkIntervals(op.request_txn.failure ?? []);
    for (const k of then.puts) {
      if (puts.has(k) || deleted(k)) throw ERR.duplicateKey();
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if ((puts.has(k) && !then.puts.has(k)) || deleted(k)) throw ERR.duplicateKey();
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    if (!('request_put' in op)) continue;
    const k = asBuffer(op.request_put.key).toString('latin1');
    if (puts.has(k) || deleted(k)) throw ERR.duplicateKey();
    puts.add(k);
  }
  return { puts, dels };
}
