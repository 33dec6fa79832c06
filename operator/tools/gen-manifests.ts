// Writes what is generated from code (make manifests): the CRD from operator/api to deploy/ and
// the chart, and the Grafana dashboard to the chart. test/operator/manifests.test.ts fails when
// the committed files differ. (`yaml`, not client-node's dumpYaml: that one maps through its
// typed models and drops `default` and CEL rules.)
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { crd } from '../api/index.js';
import { dashboard } from '../monitoring/dashboard.js';

const HEADER = (source: string) => `Generated from ${source} by \`make manifests\`; do not edit.`;

/** Path → content of every generated file. */
export function generated(): Record<string, string> {
  const crdYaml = `# ${HEADER('operator/api/kvcluster.ts')}\n${stringify(crd(), { lineWidth: 120 })}`;
  return {
    'deploy/crd/kvcluster.yaml': crdYaml,
    'charts/raftkv-operator/crds/kvcluster.yaml': crdYaml,
    'charts/raftkv-operator/files/dashboard.json': `${JSON.stringify(dashboard(), null, 2)}\n`,
  };
}

if (process.argv[1] && resolve(process.argv[1]).endsWith('gen-manifests.js')) {
  for (const [file, text] of Object.entries(generated())) writeFileSync(file, text);
  console.log(`wrote ${Object.keys(generated()).join(', ')}`);
}
