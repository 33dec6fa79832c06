// A member's own ID on disk: recorded at its first start and kept after that, whatever the
// peer URL it would be derived from now; a damaged file stops the member with its path.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownMemberId } from './member-file.js';

test('the first ID is recorded and kept; a file without one is refused with its path', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'member-id-')), 'id');
  expect(await ownMemberId(path, '0123456789abcdef')).toBe('0123456789abcdef');
  expect(readFileSync(path, 'utf8')).toBe('0123456789abcdef\n');
  expect(await ownMemberId(path, 'fedcba9876543210')).toBe('0123456789abcdef');
  writeFileSync(path, 'not an id\n');
  await expect(ownMemberId(path, 'fedcba9876543210')).rejects.toThrow(
    `${path} holds no member ID: "not an id"`,
  );
});
