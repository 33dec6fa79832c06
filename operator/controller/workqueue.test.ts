import { FakeClock } from '../../test/operator/fake-clock.js';
import { Rng } from '../../test/sim/rng.js';
import { WorkQueue } from './workqueue.js';

test('a key added many times while waiting is handed out once', async () => {
  const q = new WorkQueue(new FakeClock());
  for (let i = 0; i < 5; i++) q.add('ns/a');
  q.add('ns/b');
  expect(q.depth()).toBe(2);
  expect(await q.get()).toBe('ns/a');
  expect(await q.get()).toBe('ns/b');
  expect(q.depth()).toBe(0);
});

test('a key added while being worked on comes back once, after done', async () => {
  const q = new WorkQueue(new FakeClock());
  q.add('k');
  const k = await q.get();
  q.add('k');
  q.add('k');
  expect(q.depth()).toBe(0);
  q.done(k!);
  expect(q.depth()).toBe(1);
  expect(await q.get()).toBe('k');
});

test('failures back off exponentially up to the cap, and forget resets', () => {
  const q = new WorkQueue(new FakeClock(), { baseMs: 100, maxMs: 1000 });
  expect([1, 2, 3, 4, 5, 6].map(() => q.addRateLimited('k'))).toEqual([100, 200, 400, 800, 1000, 1000]);
  q.forget('k');
  expect(q.addRateLimited('k')).toBe(100);
});

test('addAfter fires at the earliest time asked for; an immediate add wins over a delay', () => {
  const clock = new FakeClock();
  const q = new WorkQueue(clock);
  q.addAfter('k', 5000);
  q.addAfter('k', 1000);
  q.addAfter('k', 3000);
  clock.advance(999);
  expect(q.depth()).toBe(0);
  clock.advance(1);
  expect(q.depth()).toBe(1);
  clock.advance(10_000);
  expect(q.depth()).toBe(1);
  q.addAfter('j', 500);
  q.add('j');
  expect(q.depth()).toBe(2);
  clock.advance(1000);
  expect(q.depth()).toBe(2);
});

test('shutDown hands out no more keys and waits for the work in flight', async () => {
  const q = new WorkQueue(new FakeClock());
  q.add('a');
  const a = await q.get();
  let drained = false;
  const down = q.shutDown().then(() => (drained = true));
  expect(await q.get()).toBeUndefined();
  await Promise.resolve();
  expect(drained).toBe(false);
  q.done(a!);
  await down;
  expect(drained).toBe(true);
});

test('random interleavings of add, addAfter, failures and workers never lose a key or run one twice at once', async () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rng = new Rng(seed);
    const clock = new FakeClock();
    const q = new WorkQueue(clock, { baseMs: 10, maxMs: 100 });
    const keys = ['a', 'b', 'c', 'd'];
    const active = new Set<string>();
    const wanted = new Set<string>();
    const taken: string[] = [];
    for (let i = 0; i < 200; i++) {
      const k = rng.pick(keys);
      const r = rng.next();
      if (r < 0.4) {
        q.add(k);
        wanted.add(k);
      } else if (r < 0.55) {
        q.addAfter(k, rng.int(1, 50));
        wanted.add(k);
      } else if (r < 0.8 && q.depth() > 0) {
        const got = (await q.get())!;
        if (active.has(got)) throw new Error(`seed ${seed}: ${got} handed out twice`);
        active.add(got);
        wanted.delete(got);
        taken.push(got);
      } else if (active.size > 0) {
        const done = rng.pick([...active]);
        active.delete(done);
        if (rng.chance(0.3)) {
          q.addRateLimited(done);
          wanted.add(done);
        }
        q.done(done);
      }
      clock.advance(rng.int(0, 20));
    }
    for (const k of active) q.done(k);
    clock.advance(10_000);
    const rest = new Set<string>();
    while (q.depth() > 0) {
      const k = (await q.get())!;
      rest.add(k);
      q.done(k);
    }
    for (const k of wanted)
      if (!rest.has(k)) throw new Error(`seed ${seed}: ${k} was added but never handed out`);
    expect(taken.length).toBeGreaterThan(0);
  }
});
