// The member table on disk (members.json in the data dir), replaced atomically on every change,
// and this member's own ID (kept from its first start: its peer URLs may change later).
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
    const saved = JSON.parse(text) as { members: MemberInfo[]; removed: string[] };
    return new MemberTable(saved.members, saved.removed);
  } catch (e) {
    throw new Error(`${path} is damaged: ${String(e)}`);
  }
}

const writes = new Map<string, Promise<void>>();

/** Saves are queued per file so two changes applied back to back never race on the temp file. */
export function saveMemberTable(path: string, table: MemberTable): Promise<void> {
  const snapshot = JSON.stringify(table, null, 2);
  const next = (writes.get(path) ?? Promise.resolve()).then(() => writeAtomically(path, snapshot));
  writes.set(path, next);
  return next;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text);
  const f = await open(tmp, 'r');
  await f.sync();
  await f.close();
  await rename(tmp, path);
}

/**
 * This member's ID as its data dir first recorded it, or `initial` (derived from its first peer
 * URL, as a new member's is) recorded now. Like etcd, the ID outlives a change of peer URLs.
 */
export async function ownMemberId(path: string, initial: string): Promise<string> {
  try {
    const saved = (await readFile(path, 'utf8')).trim();
    if (!/^[0-9a-f]{16}$/.test(saved))
      throw new Error(`${path} holds no member ID: ${JSON.stringify(saved)}`);
    return saved;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await writeAtomically(path, `${initial}\n`);
  return initial;
}
