// Snapshots on their own connections over real loopback sockets: large ones arrive intact while
// heartbeats keep flowing, and every failure reaches the sender as a rejection.
import { createHash } from 'node:crypto';
import type { Message } from '../raft/types.js';
import { closeAll, heartbeat, mesh, node, snapMsg, waitFor } from './test-support.js';
import type { SnapshotHandler } from './types.js';

afterEach(closeAll);

const MiB = 1024 * 1024;

/** `count` pseudo-random chunks of `size` bytes, and the sha256 of all of them. */
function chunksOf(count: number, size: number): { chunks: Uint8Array[]; sha: string } {
  const h = createHash('sha256');
  const chunks = Array.from({ length: count }, (_, i) => {
    const c = new Uint8Array(size).map((_, j) => (i * 131 + j * 7) % 251);
    h.update(c);
    return c;
  });
  return { chunks, sha: h.digest('hex') };
}

async function* slowly(chunks: Uint8Array[]): AsyncIterable<Uint8Array> {
  for (const c of chunks) {
    await new Promise((r) => setImmediate(r));
    yield c;
  }
}

test('a 20 MiB snapshot streams in chunks and arrives intact while heartbeats keep flowing', async () => {
  const { chunks, sha } = chunksOf(10, 2 * MiB);
  let installed: { from: string; index: number; sha: string; bytes: number; frames: number } | undefined;
  const heard: Message[] = [];
  const heartbeatsDuring: number[] = [];
  const onSnapshot: SnapshotHandler = async (from, msg, data) => {
    const h = createHash('sha256');
    let bytes = 0;
    let frames = 0;
    for await (const c of data) {
      if (frames === 0) {
        // Stall mid-stream until heartbeats sent after the snapshot started have arrived: they
        // cannot be queued behind the megabytes the sender still has to send.
        const seen = heard.length;
        await waitFor('heartbeats during the snapshot', () => heard.length >= seen + 5);
        heartbeatsDuring.push(heard.length - seen);
      }
      h.update(c);
      bytes += c.length;
      frames++;
    }
    installed = { from, index: msg.snapshot!.meta.index, sha: h.digest('hex'), bytes, frames };
  };
  const b = await node('b', { onSnapshot, onMessages: (ms) => heard.push(...ms) });
  const a = await node('a', { snapshotChunkBytes: MiB });
  mesh([a, b]);
  const beat = setInterval(() => a.t.send([heartbeat('a', 'b', 1)]), 2);
  try {
    const t0 = performance.now();
    await a.t.sendSnapshot('b', snapMsg(42), slowly(chunks));
    const seconds = (performance.now() - t0) / 1000;
    expect(installed).toEqual({ from: 'a', index: 42, sha, bytes: 20 * MiB, frames: 20 });
    expect(heartbeatsDuring[0]).toBeGreaterThanOrEqual(5);
    expect(a.t.peerStats('b')!.bytesSent).toBeGreaterThan(20 * MiB);
    expect(seconds).toBeLessThan(10);
  } finally {
    clearInterval(beat);
  }
});

test('a snapshot the receiver fails to install rejects the send with its reason', async () => {
  const b = await node('b', {
    onSnapshot: async (_from, _msg, data) => {
      for await (const _ of data) break;
      throw new Error('disk full');
    },
  });
  const a = await node('a');
  mesh([a, b]);
  await expect(a.t.sendSnapshot('b', snapMsg(3), chunksOf(4, MiB).chunks)).rejects.toThrow(/disk full/);
  expect(b.logged('warn', 'not installed')).toBe(true);
});

test('a sender that fails mid-stream rejects, and the receiver sees a broken stream, not a snapshot', async () => {
  let receiverError: unknown;
  const b = await node('b', {
    onSnapshot: async (_from, _msg, data) => {
      try {
        for await (const _ of data);
      } catch (e) {
        receiverError = e;
        throw e;
      }
    },
  });
  const a = await node('a');
  mesh([a, b]);
  async function* failing(): AsyncIterable<Uint8Array> {
    yield new Uint8Array(MiB);
    throw new Error('backend export failed');
  }
  await expect(a.t.sendSnapshot('b', snapMsg(3), failing())).rejects.toThrow(/backend export failed/);
  await waitFor('the receiver sees the break', () => receiverError !== undefined);
  expect(String(receiverError)).toMatch(/broke off/);
});

test('snapshots to an unreachable, unknown or refusing peer reject', async () => {
  const gone = await node('gone');
  const port = gone.port;
  await gone.t.close();
  const a = await node('a');
  a.t.addPeer('b', { host: '127.0.0.1', port });
  await expect(a.t.sendSnapshot('b', snapMsg(1), [new Uint8Array(10)])).rejects.toThrow(/closed before/);
  await expect(a.t.sendSnapshot('nobody', snapMsg(1), [])).rejects.toThrow(/unknown peer/);
  const other = await node('c', { clusterId: 'other' });
  a.t.addPeer('c', { host: '127.0.0.1', port: other.port });
  await expect(a.t.sendSnapshot('c', snapMsg(1), [new Uint8Array(10)])).rejects.toThrow(/refused.*cluster/);
  const noHandler = await node('d', { onSnapshot: undefined });
  a.t.addPeer('d', { host: '127.0.0.1', port: noHandler.port });
  await expect(a.t.sendSnapshot('d', snapMsg(1), [new Uint8Array(10)])).rejects.toThrow(/does not accept/);
});

test('close() fails a snapshot send in progress', async () => {
  const b = await node('b', { onSnapshot: () => new Promise(() => {}) }); // never installs
  const a = await node('a');
  mesh([a, b]);
  const sending = a.t.sendSnapshot('b', snapMsg(1), [new Uint8Array(MiB)]);
  await waitFor('the data reached b', () => (b.t.peerStats('a')?.bytesReceived ?? 0) > MiB);
  const failed = expect(sending).rejects.toThrow(/closed before/);
  await a.t.close();
  await failed;
});
