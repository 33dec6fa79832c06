// Entry envelopes: they round-trip, and each owns its bytes (the Raft log keeps them for thousands
// of writes, so a view into a shared encode buffer would keep that whole buffer alive).
import { decodeEnvelope, encodeEnvelope, type Envelope } from './envelope.js';

test('a write envelope round-trips', () => {
  const env: Envelope = { kind: 'kv', id: 'm1-7-42', request: new Uint8Array([1, 2, 3]) };
  const back = decodeEnvelope(encodeEnvelope(env));
  expect(back).toMatchObject({ kind: 'kv', id: 'm1-7-42' });
  expect(Buffer.from((back as { request: Uint8Array }).request)).toEqual(Buffer.from([1, 2, 3]));
});

test('a member update round-trips, and an unknown kind is refused', () => {
  const env: Envelope = {
    kind: 'memberUpdate',
    id: 'm1-7-43',
    member: { id: 'ab', peerURLs: ['http://h:2380'] },
  };
  expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
  const other = encodeEnvelope({ ...env, kind: 'memberMove' } as unknown as Envelope);
  expect(() => decodeEnvelope(other)).toThrow('malformed log entry envelope');
});

test('each encoded envelope has a buffer of its own size', () => {
  for (let i = 0; i < 100; i++) {
    const data = encodeEnvelope({ kind: 'kv', id: `m1-7-${i}`, request: new Uint8Array(300) });
    expect(data.byteOffset).toBe(0);
    expect(data.buffer.byteLength).toBe(data.byteLength);
  }
});

test('decoding leaves the entry’s bytes as they were (no cached DataView kept by the Raft log)', () => {
  const data = encodeEnvelope({ kind: 'kv', id: 'm1-7-1', request: new Uint8Array(300) });
  decodeEnvelope(data);
  expect(Object.getOwnPropertyNames(data).filter((k) => !/^\d+$/.test(k))).toEqual([]);
});

test('bytes that are not an envelope are refused with their length', () => {
  expect(() => decodeEnvelope(new Uint8Array([0xc0]))).toThrow('malformed log entry envelope (1 bytes)');
});
