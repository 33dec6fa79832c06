// The Raft entry codec: every request kind round-trips; bad bytes fail with a clear error.
import { decodeRequest, encodeRequest } from './codec.js';
import { b } from './test-harness.js';
import type { WriteRequest } from './types.js';

const requests: WriteRequest[] = [
  { put: { key: b('k'), value: new Uint8Array([0, 1, 255]), lease: 7, prev_kv: true } },
  { delete_range: { key: b('a'), range_end: new Uint8Array([0]), prev_kv: true } },
  {
    txn: {
      compare: [{ key: b('a'), target: 'MOD', result: 'LESS', mod_revision: 2 ** 53 - 1 }],
      success: [
        { request_txn: { success: [{ request_range: { key: b('a'), limit: 3, sort_order: 'DESCEND' } }] } },
      ],
      failure: [{ request_delete_range: { key: b('a') } }],
    },
  },
  { compaction: { revision: 42, physical: true } },
  { alarm: { action: 'DEACTIVATE', alarm: 'NOSPACE' } },
];

/** Bytes as hex, so that a Buffer and a Uint8Array with the same bytes compare equal. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

test.each(requests.map((r) => [Object.keys(r)[0], r]))('%s round-trips', (_kind, r) => {
  const decoded = decodeRequest(encodeRequest(r as WriteRequest));
  expect(plain(decoded)).toEqual(plain(r));
});

test('bad bytes fail with an error that says what is wrong', () => {
  expect(() => decodeRequest(new Uint8Array())).toThrow('write request: empty entry data');
  expect(() => decodeRequest(new Uint8Array([9, 0x80]))).toThrow('unknown encoding version 9');
  expect(() => decodeRequest(new Uint8Array([1, 0x92, 0x01]))).toThrow('write request: bad msgpack');
  expect(() => decodeRequest(new Uint8Array([1, 0x2a]))).toThrow('write request: not an object');
  const unknown = encodeRequest({ auth_enable: {} } as unknown as WriteRequest);
  expect(() => decodeRequest(unknown)).toThrow(
    'expected one of put, delete_range, txn, compaction, alarm, lease_grant, lease_revoke',
  );
});
