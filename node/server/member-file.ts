// The member table on disk (members.json in the data dir), replaced atomically on every change.
import { mkdir, readFile, rename, writeFile, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MemberTable, type MemberInfo } from './members.js';

export async function loadMemberTable(path: string): Promise<MemberTable | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return new MemberTable(JSON.parse(text) as MemberInfo[]);
  } catch (e) {
    throw new Error(`${path} is damaged: ${String(e)}`);
  }
}

export async function saveMemberTable(path: string, table: MemberTable): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(table.all(), null, 2));
  const f = await open(tmp, 'r');
  await f.sync();
  await f.close();
  await rename(tmp, path);
}
