import { inRange, prefixEnd } from './key-range.js';

const b = (s: string) => Buffer.from(s, 'latin1');

test('prefixEnd: the range [prefix, end) holds exactly the keys with the prefix, and the prefix is left as it was', () => {
  const prefix = b('jobs/');
  const end = prefixEnd(prefix);
  expect(Buffer.from(end).toString()).toBe('jobs0');
  expect(prefix.toString()).toBe('jobs/'); // a Buffer's slice is a view: the end must be a copy
  for (const k of ['jobs/', 'jobs/1', 'jobs/\xff\xff']) expect(inRange(b(k), prefix, end)).toBe(true);
  for (const k of ['jobs', 'jobs0', 'jobt']) expect(inRange(b(k), prefix, end)).toBe(false);
});

test('prefixEnd: trailing 0xff bytes carry over; a prefix of 0xff bytes only covers every key from it on', () => {
  expect([...prefixEnd(b('a\xff\xff'))]).toEqual([0x62]);
  expect([...prefixEnd(b('\xff\xff'))]).toEqual([0]);
});
