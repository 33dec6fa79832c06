// The cluster's member list as the API shows it (names and URLs). Voting rights live in the Raft
// configuration; this table only adds what people need to find members. It changes through the
// log (membership changes carry a member's name and peer URLs, and each member publishes its
// client URLs once it starts), is saved with every snapshot, and is rebuilt the same way on
// every member.
export interface MemberInfo {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

export class MemberTable {
  private readonly members = new Map<string, MemberInfo>();
  /** Members removed from the cluster: their connections are refused so they learn it and stop. */
  private readonly removed = new Set<string>();

  constructor(initial: Iterable<MemberInfo> = [], removed: Iterable<string> = []) {
    for (const m of initial) this.members.set(m.id, { ...m });
    for (const id of removed) this.removed.add(id);
  }

  get(id: string): MemberInfo | undefined {
    return this.members.get(id);
  }

  all(): MemberInfo[] {
    return [...this.members.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  upsert(m: Partial<MemberInfo> & { id: string }): void {
    const prev = this.members.get(m.id) ?? { id: m.id, name: '', peerURLs: [], clientURLs: [] };
    this.members.set(m.id, { ...prev, ...m });
  }

  remove(id: string): void {
    this.members.delete(id);
    this.removed.add(id);
  }

  isRemoved(id: string): boolean {
    return this.removed.has(id) && !this.members.has(id);
  }

  /** A member added again under the same ID is a member again. */
  readmit(id: string): void {
    this.removed.delete(id);
  }

  /** The members that have published their client URLs, so have run as members of the cluster. */
  published(): string[] {
    return this.all()
      .filter((m) => m.clientURLs.length > 0)
      .map((m) => m.id);
  }

  byPeerURL(url: string): MemberInfo | undefined {
    return this.all().find((m) => m.peerURLs.includes(url));
  }

  toJSON(): { members: MemberInfo[]; removed: string[] } {
    return { members: this.all(), removed: [...this.removed] };
  }
}
