// The changes one write request makes. They all carry the request's revision and get
// sub-revisions in order; each one adds a history record and the key's change in the key index
// (and updates which lease holds the key), counts against the quota and becomes a watch event.
import type { Backend, Meta } from './backend.js';
import { LeaseTable } from './leases.js';
import { putRecord, recordCost, toKeyValue, tombstoneRecord, type StoredRecord } from './records.js';
import type { Event, KeyValue } from './types.js';

/** What a batch builds up while it applies: the meta it will commit and the events it will publish. */
export interface BatchState {
  meta: Meta;
  events: Event[];
}

export class RevisionWriter {
  private sub = 0;
  private readonly leases: LeaseTable;

  constructor(
    private readonly db: Backend,
    private readonly state: BatchState,
    readonly revision: number,
  ) {
    this.leases = new LeaseTable(db);
  }

  get changed(): boolean {
    return this.sub > 0;
  }

  /** Writes the key's next version; `prev` is its current one, if it exists. */
  put(key: Uint8Array, value: Uint8Array, lease: number, prev: KeyValue | undefined): KeyValue {
    const kv: KeyValue = {
      key,
      value,
      lease,
      create_revision: prev ? prev.create_revision : this.revision,
      mod_revision: this.revision,
      version: prev ? prev.version + 1 : 1,
    };
    this.record(putRecord(kv));
    if (prev?.lease !== lease) {
      if (prev?.lease) this.leases.detach(prev.lease, key);
      if (lease) this.leases.attach(lease, key);
    }
    this.state.events.push(prev ? { type: 'PUT', kv, prev_kv: prev } : { type: 'PUT', kv });
    return kv;
  }

  delete(prev: KeyValue): void {
    const tombstone = tombstoneRecord(prev.key);
    this.record(tombstone);
    if (prev.lease) this.leases.detach(prev.lease, prev.key);
    this.state.events.push({ type: 'DELETE', kv: toKeyValue(this.revision, tombstone), prev_kv: prev });
  }

  private record(r: StoredRecord): void {
    this.db.addRecord(this.revision, this.sub++, r);
    this.state.meta.usage += recordCost(r);
  }
}
