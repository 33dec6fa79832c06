// Writes the CRD generated from operator/api to deploy/ and to the chart (make manifests). A test
// fails when the committed files differ from what this produces. (`yaml`, not client-node's
// dumpYaml: that one maps through its typed models and drops `default` and CEL rules.)
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { crd } from '../api/index.js';

export const CRD_FILES = ['deploy/crd/kvcluster.yaml', 'charts/raftkv-operator/crds/kvcluster.yaml'];

export function crdYaml(): string {
  return `# Generated from operator/api/kvcluster.ts by \`make manifests\`; do not edit.\n${stringify(crd(), { lineWidth: 120 })}`;
}

if (process.argv[1] && resolve(process.argv[1]).endsWith('gen-manifests.js')) {
  for (const f of CRD_FILES) writeFileSync(f, crdYaml());
  console.log(`wrote ${CRD_FILES.join(', ')}`);
}
