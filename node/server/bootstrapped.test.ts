// Whether a member founding a new cluster on an empty data dir is refused because another founder
// knows it as published; with fake peers, so every answer and non-answer can be given.
import type { PeerAddress, PublishedAnswer } from '../transport/transport.js';
import { bootstrappedRefusal } from './bootstrapped.js';
import { parseConfig } from './config.js';
import { founders } from './member.js';

const config = (...argv: string[]) =>
  parseConfig(
    [
      '--name=m1',
      '--data-dir=/data/m1',
      '--initial-advertise-peer-urls=http://10.0.0.1:2380',
      '--initial-cluster=m1=http://10.0.0.1:2380,m2=http://10.0.0.2:2380,m3=http://10.0.0.3:2380',
      ...argv,
    ],
    {},
  );
const [m1, m2, m3] = founders(config()).map((m) => m.id) as [string, string, string];

/** Peers answering as `answers` says (by peer id); records who was asked, at which address. */
function peers(answers: Record<string, PublishedAnswer | Error>) {
  const asked: Array<[string, PeerAddress]> = [];
  return {
    asked,
    askPublished: async (to: string, address: PeerAddress) => {
      asked.push([to, address]);
      const a = answers[to] ?? { unanswered: 'no answer within 1000 ms' };
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

const logger = { info: () => {} };
const check = (p: ReturnType<typeof peers>, walEmpty = true, cfg = config()) =>
  bootstrappedRefusal({ id: m1, config: cfg, walEmpty, peers: p, logger });

test('a founder listed as published by another is refused, with what to do', async () => {
  const p = peers({ [m2]: { published: [m2, m3] }, [m3]: { published: [m1, m2, m3] } });
  const refusal = await check(p);
  expect(refusal).toContain(`member m1 (${m1}) has already been bootstrapped (listed as published by m3)`);
  expect(refusal).toContain('empty data dir /data/m1: its data was lost');
  expect(refusal).toMatch(/member remove .*--initial-cluster-state=existing.*restore the data dir/);
  expect(p.asked.sort()).toEqual(
    [
      [m2, { host: '10.0.0.2', port: 2380 }],
      [m3, { host: '10.0.0.3', port: 2380 }],
    ].sort(),
  );
});

test('a founder no answer lists goes on: answers without it, silence, or a failed ask', async () => {
  expect(await check(peers({ [m2]: { published: [m2] } }))).toBeUndefined();
  expect(await check(peers({}))).toBeUndefined();
  expect(await check(peers({ [m2]: new Error('EINVAL'), [m3]: { published: [] } }))).toBeUndefined();
});

test('only a new cluster member on an empty WAL asks, and not when forcing a new cluster', async () => {
  const knowsIt = () => peers({ [m2]: { published: [m1] } });
  for (const [walEmpty, cfg] of [
    [false, config()],
    [true, config('--initial-cluster-state=existing')],
    [true, config('--force-new-cluster')],
  ] as const) {
    const p = knowsIt();
    expect(await check(p, walEmpty, cfg)).toBeUndefined();
    expect(p.asked).toEqual([]);
  }
  const separateWal = await check(knowsIt(), true, config('--wal-dir=/wal/m1'));
  expect(separateWal).toContain('empty WAL dir /wal/m1');
});
