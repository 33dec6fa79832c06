// The space quota: past it a NOSPACE alarm goes off (and stays, across restarts); puts and txns
// that could put are refused, reads and deletes still work; compaction plus a disarm lets writes in.
import { Harness, b } from './test-harness.js';
import { MvccError, type PutResponse } from './types.js';

const QUOTA = 64 * 1024;
let h: Harness;
beforeEach(() => {
  h = new Harness({ quotaBackendBytes: QUOTA });
});
afterEach(() => h.close());

/** Puts 1 KiB values until the alarm goes off; returns how many went in. */
function fill(): number {
  for (let i = 0; i < 1000; i++) {
    h.put(`k${i}`, 'x'.repeat(1024));
    if (h.store.alarms().length > 0) return i + 1;
  }
  throw new Error('the alarm never went off');
}

test('the alarm goes off once history holds more than the quota; the write that crossed it stands', () => {
  const n = fill();
  expect(h.store.alarms()).toEqual(['NOSPACE']);
  expect(n).toBeGreaterThan(QUOTA / (1024 + 200));
  expect(n).toBeLessThanOrEqual(QUOTA / 1024 + 1);
  expect(h.get(`k${n - 1}`)).toBeDefined();
});

test('while NOSPACE is raised: puts and txns that could put are refused; reads, deletes, read txns work', async () => {
  fill();
  const rev = h.store.currentRevision();
  const refused = h.fails({ put: { key: b('new'), value: b('v') } });
  expect([refused.code, refused.message]).toEqual(['nospace', 'etcdserver: mvcc: database space exceeded']);
  const putInFailureBranch = { txn: { failure: [{ request_put: { key: b('new'), value: b('v') } }] } };
  expect(h.fails(putInFailureBranch).code).toBe('nospace');
  expect(h.get('k0')).toBeDefined();
  h.ok({ txn: { success: [{ request_range: { key: b('k0') } }] } });
  h.ok({ txn: { success: [{ request_delete_range: { key: b('k1') } }] } });
  h.del('k2');
  expect(h.store.currentRevision()).toBe(rev + 2);
  await h.reopen({ quotaBackendBytes: QUOTA });
  expect(h.store.alarms()).toEqual(['NOSPACE']);
  expect(h.fails({ put: { key: b('new'), value: b('v') } }).code).toBe('nospace');
});

test('after deletes, a compaction and a disarm, puts go in again', () => {
  const n = fill();
  h.ok({ delete_range: { key: b('k'), range_end: b('l') } });
  h.ok({ compaction: { revision: h.store.currentRevision() } });
  expect(h.store.alarms()).toEqual(['NOSPACE']); // compaction alone does not disarm, as in etcd
  const disarmed = h.ok({ alarm: { action: 'DEACTIVATE', alarm: 'NOSPACE' } });
  expect(disarmed).toEqual({ header: { revision: h.store.currentRevision() }, alarms: [] });
  for (let i = 0; i < n - 2; i++) h.put(`again${i}`, 'x'.repeat(1024));
  expect(h.store.alarms()).toEqual([]);
});

test('a disarm while still over the quota lets one write in, which raises the alarm again', () => {
  fill();
  h.ok({ alarm: { action: 'DEACTIVATE', alarm: 'NOSPACE' } });
  const res = h.apply({ put: { key: b('one'), value: b('v') } }, { put: { key: b('two'), value: b('v') } });
  expect((res[0] as PutResponse).header).toBeDefined();
  expect((res[1] as MvccError).code).toBe('nospace');
});

test('the alarm can be raised by request, like etcdctl alarm', () => {
  h.ok({ alarm: { action: 'ACTIVATE', alarm: 'NOSPACE' } });
  expect(h.store.alarms()).toEqual(['NOSPACE']);
  expect(h.fails({ put: { key: b('a'), value: b('v') } }).code).toBe('nospace');
});

test('dbSize reports the bytes of the file in use as of the last commit (as etcd does), and grows with the data', async () => {
  const before = h.store.dbSize();
  fill();
  expect(h.store.dbSize()).toBe(before);
  await h.store.flushed();
  expect(h.store.dbSize()).toBeGreaterThan(before + QUOTA / 2);
});
