// The generated manifests are what the code generates (make manifests), the CRD carries the
// rules the issue names, and the operator's own validation agrees with the CRD's.
import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';

interface Sample {
  kind: string;
  spec: unknown;
}
import { validateSpec, withDefaults } from '../../operator/api/validate.js';
import { crd } from '../../operator/api/crd.js';
import { dashboardQueries } from '../../operator/monitoring/dashboard.js';
import { generated } from '../../operator/tools/gen-manifests.js';

test.each(Object.entries(generated()))('%s is up to date (run `make manifests` if not)', (file, text) => {
  expect(readFileSync(file, 'utf8')).toBe(text);
});

describe('the CRD', () => {
  const c = crd() as {
    spec: {
      names: { shortNames: string[] };
      versions: {
        subresources: Record<string, unknown>;
        schema: {
          openAPIV3Schema: {
            properties: {
              spec: { properties: { replicas: { 'x-kubernetes-validations': { rule: string }[] } } };
            };
          };
        };
        additionalPrinterColumns: { name: string }[];
      }[];
    };
  };
  const v = c.spec.versions[0]!;
  const spec = v.schema.openAPIV3Schema.properties.spec;

  test('has the kvc short name, status and scale subresources and printer columns', () => {
    expect(c.spec.names.shortNames).toEqual(['kvc']);
    expect(Object.keys(v.subresources).sort()).toEqual(['scale', 'status']);
    expect(v.additionalPrinterColumns.map((p) => p.name)).toEqual(
      expect.arrayContaining(['Replicas', 'Ready', 'Leader', 'Quorum', 'Phase']),
    );
  });

  test('bounds replicas to 1..9 and asks for odd values with a CEL rule', () => {
    expect(spec.properties.replicas).toMatchObject({ minimum: 1, maximum: 9, type: 'integer' });
    expect(spec.properties.replicas['x-kubernetes-validations'][0]!.rule).toBe('self % 2 == 1');
  });

  test('uses no schema constructs the API server rejects (anyOf/const unions, $ref)', () => {
    const text = JSON.stringify(c);
    expect(text).not.toMatch(/"anyOf"|"const"|"\$ref"|"\$id"/);
  });
});

describe('the operator validates a spec like the CRD does', () => {
  test.each([1, 3, 5, 7, 9])('replicas %d is valid', (replicas) => {
    expect(validateSpec({ replicas })).toEqual([]);
  });
  test.each([0, 2, 4, 10, 11, 3.5])('replicas %d is refused with a message naming the field', (replicas) => {
    const problems = validateSpec({ replicas });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join(' ')).toMatch(/replicas/);
  });
  test('an election timeout under 5 heartbeats is refused', () => {
    expect(validateSpec({ raft: { heartbeatIntervalMs: 100, electionTimeoutMs: 400 } }).join(' ')).toMatch(
      /electionTimeoutMs \(400\) must be at least 5 × heartbeatIntervalMs \(100\)/,
    );
  });
  test('auto compaction: a revision count in revision mode, a duration or hours in periodic mode', () => {
    const auto = (autoCompaction: object) => validateSpec({ raft: { autoCompaction } }).join(' ');
    expect(auto({ retention: '1h' })).toBe('');
    expect(auto({ retention: '12' })).toBe('');
    expect(auto({ mode: 'revision', retention: '1000' })).toBe('');
    expect(auto({ mode: 'revision', retention: '1h' })).toMatch(
      /autoCompaction: in revision mode the retention is a number of revisions \(got 1h\)/,
    );
    expect(auto({ retention: 'daily' })).toMatch(/retention/);
    expect(auto({ mode: 'weekly', retention: '1' })).toMatch(/mode/);
  });
  test('an empty spec gets every default', () => {
    const k = withDefaults({
      apiVersion: 'raftkv.io/v1alpha1',
      kind: 'KVCluster',
      metadata: { name: 'a' },
    } as never);
    expect(k.spec.replicas).toBe(3);
    expect(k.spec.raft.electionTimeoutMs).toBeGreaterThanOrEqual(5 * k.spec.raft.heartbeatIntervalMs);
  });
});

/** Metric names the operator and the members register. */
const exported = new Set(
  ['operator/controller/metrics.ts', 'node/api/metrics.ts', 'node/api/grpc-metrics.ts'].flatMap((f) =>
    [...readFileSync(f, 'utf8').matchAll(/'((?:raftkv|etcd)_[a-z_]+)'/g)].map((m) => m[1]!),
  ),
);
/** Names a PromQL expression reads that nobody exports (histogram series read through _bucket). */
const unknownMetrics = (expr: string) =>
  [...expr.matchAll(/\b(?:raftkv|etcd)_[a-z_]+/g)]
    .map((m) => m[0].replace(/_bucket$/, ''))
    .filter((n) => !exported.has(n));

test.each(['kvcluster.yaml', 'kvcluster-tls.yaml'])('the KVCluster in deploy/samples/%s is valid', (file) => {
  const docs = parseAllDocuments(readFileSync(`deploy/samples/${file}`, 'utf8')).map(
    (d) => d.toJSON() as Sample,
  );
  const kvcs = docs.filter((d) => d.kind === 'KVCluster');
  expect(kvcs).toHaveLength(1);
  expect(validateSpec(kvcs[0]!.spec)).toEqual([]);
});

test('every dashboard query reads only exported metrics', () => {
  expect(exported.has('etcd_server_has_leader') && exported.has('raftkv_cluster_quorum_healthy')).toBe(true);
  for (const expr of dashboardQueries()) expect([expr, unknownMetrics(expr)]).toEqual([expr, []]);
});

test('every alert reads only exported metrics', () => {
  const rules = parse(readFileSync('charts/raftkv-operator/files/alerts.yaml', 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  for (const r of rules.groups.flatMap((g) => g.rules))
    expect([r.alert, unknownMetrics(r.expr)]).toEqual([r.alert, []]);
});
