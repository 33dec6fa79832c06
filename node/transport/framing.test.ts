// The wire format without sockets: frames survive any split of the byte stream, bytes stay bytes,
// and bad input fails with FrameError (which the socket layer turns into a closed connection).
import { Packr } from 'msgpackr';
import { encodeFrame, encodeMessageFrames, FrameDecoder, FrameError, type Frame } from './framing.js';
import { appMsg } from './test-support.js';

const MiB = 1024 * 1024;

test('message frames round-trip entries as Uint8Array, with indexes up to 2^53-1', () => {
  const big = {
    ...appMsg('a', 'b', Number.MAX_SAFE_INTEGER - 1, new Uint8Array([0, 1, 255])),
    context: 'rd-1',
  };
  const [f] = new FrameDecoder(MiB).push(encodeFrame({ t: 'msgs', msgs: [big] }));
  expect(f?.t).toBe('msgs');
  const m = (f as Extract<Frame, { t: 'msgs' }>).msgs[0]!;
  expect(m.index).toBe(Number.MAX_SAFE_INTEGER - 1);
  expect(m.entries[0]!.index).toBe(Number.MAX_SAFE_INTEGER);
  expect(m.entries[0]!.data).toBeInstanceOf(Uint8Array);
  expect([...m.entries[0]!.data]).toEqual([0, 1, 255]);
  expect(m.context).toBe('rd-1');
  expect(m.snapshot).toBeUndefined();
});

test('frames decode the same whatever the split points of the stream', () => {
  const frames: Frame[] = [
    { t: 'hello', version: 1, clusterId: 'c', from: 'a', to: 'b', kind: 'msg' },
    { t: 'ping', at: 1.5 },
    { t: 'msgs', msgs: [appMsg('a', 'b', 1), appMsg('a', 'b', 2, new Uint8Array(5000).fill(7))] },
    { t: 'chunk', data: new Uint8Array(70_000).fill(9) },
  ];
  const bytes = Buffer.concat(frames.map(encodeFrame));
  for (const step of [1, 3, 4, 5, 64, 4096, bytes.length]) {
    const dec = new FrameDecoder(MiB);
    const out: Frame[] = [];
    for (let i = 0; i < bytes.length; i += step) out.push(...dec.push(bytes.subarray(i, i + step)));
    expect(out.map((f) => f.t)).toEqual(['hello', 'ping', 'msgs', 'chunk']);
    const chunk = out[3] as Extract<Frame, { t: 'chunk' }>;
    expect(chunk.data.length).toBe(70_000);
    expect(chunk.data.every((b) => b === 9)).toBe(true);
  }
});

test('an oversize frame is refused from its header, before its body is buffered', () => {
  const dec = new FrameDecoder(1000);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(1001);
  expect(() => [...dec.push(head)]).toThrow(/exceeds the limit of 1000/);
});

test('garbage, unknown frame types and malformed frames are FrameErrors', () => {
  const body = (v: unknown) => {
    const b = new Packr({ useRecords: false }).pack(v);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(b.length);
    return Buffer.concat([head, b]);
  };
  const cases = [
    Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]), // 0xc1 is never valid msgpack
    Buffer.from([0, 0, 0, 0]),
    body(42),
    body({ t: 'launch' }),
    body({ t: 'msgs', msgs: 'not a list' }),
    body({ t: 'msgs', msgs: [{ type: 'app', entries: 'not a list' }] }),
    body({
      t: 'msgs',
      msgs: [{ type: 'app', entries: [{ term: 1, index: 1, type: 'bogus', data: new Uint8Array() }] }],
    }),
    body({ t: 'snap', msg: { type: 'snap' } }),
    body({ t: 'hello', version: 1, clusterId: 'c', from: 'a', to: 'b', kind: 'other' }),
    body({ t: 'published', ids: 'a' }),
    body({ t: 'published', ids: ['a', 7] }),
  ];
  for (const bytes of cases) expect(() => [...new FrameDecoder(MiB).push(bytes)]).toThrow(FrameError);
});

test('a batch too large for one frame is split; a message too large for any frame is handed back', () => {
  const msgs = Array.from({ length: 8 }, (_, i) => appMsg('a', 'b', i, new Uint8Array(300)));
  const huge = appMsg('a', 'b', 99, new Uint8Array(5000));
  const { frames, tooLarge } = encodeMessageFrames([...msgs, huge], 1000);
  expect(tooLarge).toEqual([huge]);
  expect(frames.length).toBeGreaterThan(2);
  const dec = new FrameDecoder(1000);
  const back = frames.flatMap((f) => [...dec.push(f)]).flatMap((f) => (f.t === 'msgs' ? f.msgs : []));
  expect(back.map((m) => m.index)).toEqual(msgs.map((m) => m.index));
});
