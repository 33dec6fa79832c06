// The snapshot payload's framing: the member table first, then the backend's stream untouched,
// whatever the chunk boundaries; a stream without a whole header is refused with a reason.
import { decodeMembers, encodeMembers, splitSnapshotPayload } from './snapshot-payload.js';
import type { MemberInfo } from './members.js';

const members: MemberInfo[] = [
  { id: 'a1', name: 'm1', peerURLs: ['http://127.0.0.1:2380'], clientURLs: ['http://127.0.0.1:2379'] },
  { id: 'b2', name: 'm2', peerURLs: ['http://127.0.0.1:22380'], clientURLs: [] },
];

async function* pieces(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

test.each([1, 3, 64, 1 << 20])(
  'split at %i-byte chunks: the members, then the rest byte for byte',
  async (size) => {
    const db = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const payload = Buffer.concat([encodeMembers(members), db]);
    const split = await splitSnapshotPayload(pieces(payload, size));
    expect(split.members).toEqual(members);
    expect(Buffer.compare(await collect(split.db), db)).toBe(0);
  },
);

test('the header alone decodes to the members (what the Raft message carries)', () => {
  expect(decodeMembers(encodeMembers(members))).toEqual(members);
});

test('a stream that ends inside the header, or carries no member table, is refused', async () => {
  const header = Buffer.from(encodeMembers(members));
  await expect(splitSnapshotPayload(pieces(header.subarray(0, 10), 4))).rejects.toThrow(
    /ended after 10 bytes, in its header/,
  );
  expect(() => decodeMembers(Buffer.from('not a payload at all'))).toThrow(/malformed/);
});
