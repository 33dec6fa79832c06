// The client API over HTTP/JSON, shaped like etcd's v3 gateway, plus health and metrics.
import express, { type NextFunction, type Request, type Response } from 'express';
import { encodeRequest } from '../mvcc/codec.js';
import { MvccError, type WriteRequest } from '../mvcc/types.js';
import { hexToDecimal, memberId, parseMemberId } from '../server/ids.js';
import { MemberError, type Member } from '../server/member.js';
import { errorBody } from './errors.js';
import {
  asObject,
  bool,
  BadRequest,
  deleteRangeRequest,
  int64,
  putRequest,
  rangeRequest,
  responseJson,
  txnRequest,
} from './json.js';
import type { PromMetrics } from './metrics.js';

export interface ApiContext {
  member: Member;
  clusterId: string;
  clusterToken: string;
  maxRequestBytes: number;
  metrics: PromMetrics;
  version: string;
}

type Handler = (body: unknown, req: Request) => Promise<unknown>;

export function createApi(ctx: ApiContext): express.Express {
  const { member } = ctx;
  const app = express();
  app.disable('x-powered-by');
  // etcd's gateway takes JSON whatever the content type (curl -d sends form encoding).
  // Base64 makes the body a third larger than the request it carries.
  app.use(
    express.json({ type: () => true, limit: Math.ceil(ctx.maxRequestBytes * 1.4) + 4096, strict: false }),
  );

  const header = (revision?: number) =>
    responseJson({
      cluster_id: BigInt(`0x${ctx.clusterId}`).toString(10),
      member_id: hexToDecimal(member.id),
      revision: revision ?? member.kv.currentRevision(),
      raft_term: member.status().term,
    });

  const route = (path: string, handler: Handler) => {
    app.post(path, (req, res, next) => {
      handler(req.body, req).then(
        (out) => res.json(out),
        (e: unknown) => next(e),
      );
    });
  };

  const write = async (w: WriteRequest) => {
    const out = await member.write(encodeRequest(w));
    if (out instanceof MvccError) throw out;
    const r = out as { header: { revision: number } };
    return { ...(responseJson(r) as object), header: header(r.header.revision) };
  };

  route('/v3/kv/range', async (body) => {
    const req = rangeRequest(body);
    if (!req.serializable) await member.linearizableBarrier();
    const r = member.kv.range(req);
    return { ...(responseJson({ ...r, header: undefined }) as object), header: header(r.header.revision) };
  });
  route('/v3/kv/put', (body) => write({ put: putRequest(body) }));
  route('/v3/kv/deleterange', (body) => write({ delete_range: deleteRangeRequest(body) }));
  route('/v3/kv/txn', (body) => write({ txn: txnRequest(body) }));
  route('/v3/kv/compaction', (body) => {
    const o = asObject(body, 'request');
    const revision = int64(o, 'revision');
    if (revision === undefined) throw new BadRequest('revision is required');
    return write({ compaction: { revision, physical: bool(o, 'physical') ?? false } });
  });

  // ---- membership -------------------------------------------------------------------------------

  const memberList = () => {
    const s = member.status();
    const table = member.memberTable();
    return [...s.voters, ...s.learners].map((id) => {
      const info = table.get(id);
      return {
        ID: hexToDecimal(id),
        name: info?.name ?? '',
        peerURLs: info?.peerURLs ?? [],
        clientURLs: info?.clientURLs ?? [],
        ...(s.learners.includes(id) ? { isLearner: true } : {}),
      };
    });
  };
  const targetId = (body: unknown, name: string): string => {
    const o = asObject(body, 'request');
    const id = parseMemberId(o[name]);
    if (!id) throw new BadRequest(`${name} must be a member ID`);
    return id;
  };
  /** Membership changes and transfers run on the leader; a follower passes them on. */
  const onLeader = (path: string, handler: Handler) =>
    route(path, async (body, req) =>
      member.isLeader() ? handler(body, req) : forwardToLeader(ctx, req.path, body),
    );

  route('/v3/cluster/member/list', async (body) => {
    // Like etcd's linearizable member list: a change acknowledged anywhere is visible here.
    if (bool(asObject(body, 'request'), 'linearizable') !== false) await member.linearizableBarrier();
    return { header: header(), members: memberList() };
  });
  onLeader('/v3/cluster/member/add', async (body) => {
    const o = asObject(body, 'request');
    const peerURLs = o.peerURLs ?? o.peer_urls;
    if (
      !Array.isArray(peerURLs) ||
      peerURLs.length === 0 ||
      !peerURLs.every((u) => typeof u === 'string' && URL.canParse(u))
    ) {
      throw new BadRequest('peerURLs must be a non-empty list of URLs');
    }
    const id = memberId(peerURLs[0] as string, ctx.clusterToken);
    const isLearner = bool(o, 'isLearner') ?? false;
    await member.addMember(id, peerURLs as string[], isLearner);
    const added = memberList().find((m) => m.ID === hexToDecimal(id));
    return { header: header(), member: added, members: memberList() };
  });
  onLeader('/v3/cluster/member/remove', async (body) => {
    const id = targetId(body, 'ID');
    if (!member.status().voters.includes(id) && !member.status().learners.includes(id)) {
      throw new MemberError('etcdserver: member not found', 'notFound');
    }
    await member.changeMembership({ type: 'remove', nodeId: id });
    return { header: header(), members: memberList() };
  });
  onLeader('/v3/cluster/member/promote', async (body) => {
    const id = targetId(body, 'ID');
    await member.changeMembership({ type: 'promote', nodeId: id });
    return { header: header(), members: memberList() };
  });

  // ---- maintenance ------------------------------------------------------------------------------

  route('/v3/maintenance/status', async () => {
    const s = member.status();
    return {
      header: header(),
      version: ctx.version,
      dbSize: String(s.dbSize),
      dbSizeInUse: String(s.dbSize),
      leader: s.leader ? hexToDecimal(s.leader) : '0',
      raftIndex: String(s.commit),
      raftTerm: String(s.term),
      raftAppliedIndex: String(s.applied),
      ...(member.kv.alarms().length > 0
        ? { errors: member.kv.alarms().map((a) => `memberID:${hexToDecimal(member.id)} alarm:${a}`) }
        : {}),
      ...(s.isLearner ? { isLearner: true } : {}),
    };
  });
  onLeader('/v3/maintenance/transfer-leadership', async (body) => {
    await member.transferLeadership(targetId(body, 'targetID'));
    return { header: header() };
  });

  // ---- health and metrics -----------------------------------------------------------------------

  app.get('/health', (_req, res) => {
    health(member).then(
      (reason) => res.status(reason ? 503 : 200).json({ health: reason ? 'false' : 'true', reason }),
      (e: unknown) => res.status(503).json({ health: 'false', reason: String(e) }),
    );
  });
  app.get('/livez', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const s = member.status();
    const ready = s.leader !== '' && s.applied >= s.commit - 1000;
    res
      .status(ready ? 200 : 503)
      .type('text/plain')
      .send(ready ? 'ok' : 'not ready: no leader or not caught up');
  });
  app.get('/metrics', (_req, res) => {
    ctx.metrics.registry.metrics().then(
      (text) => res.type(ctx.metrics.registry.contentType).send(text),
      (e: unknown) => res.status(500).send(String(e)),
    );
  });

  app.use((req, res) => {
    res.status(404).json({
      error: `no such endpoint: ${req.method} ${req.path}`,
      code: 5,
      message: `no such endpoint: ${req.method} ${req.path}`,
    });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; message?: string };
    if (e.type === 'entity.too.large') {
      res.status(413).json({
        error: 'etcdserver: request is too large',
        code: 3,
        message: 'etcdserver: request is too large',
      });
      return;
    }
    if (e.type === 'entity.parse.failed') {
      const message = `invalid JSON in request body: ${e.message}`;
      res.status(400).json({ error: message, code: 3, message });
      return;
    }
    const { status, body } = errorBody(err);
    res.status(status).json(body);
  });
  return app;
}

/** etcd's /health: a leader exists and a linearizable read goes through. */
async function health(member: Member): Promise<string> {
  if (!member.status().leader) return 'no leader';
  await member.linearizableBarrier();
  if (member.kv.alarms().length > 0) return `alarm: ${member.kv.alarms().join(',')}`;
  return '';
}

async function forwardToLeader(ctx: ApiContext, path: string, body: unknown): Promise<unknown> {
  const leader = ctx.member.memberTable().get(ctx.member.leaderId());
  const url = leader?.clientURLs[0];
  if (!url) throw new MemberError('etcdserver: no leader', 'unavailable');
  const res = await fetch(new URL(path, url), { method: 'POST', body: JSON.stringify(body) });
  const json = (await res.json()) as { message?: string };
  if (!res.ok)
    throw new MemberError(
      json.message ?? `leader answered ${res.status}`,
      res.status === 404 ? 'notFound' : 'failedPrecondition',
    );
  return json;
}
