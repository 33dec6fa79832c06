// The CustomResourceDefinition, generated from the schema in kvcluster.ts (make manifests writes
// it to deploy/crd/ and the chart's crds/).
import { Type } from '@sinclair/typebox';
import { GROUP, KIND, PLURAL, SpecSchema, StatusSchema, VERSION, plainSchema } from './kvcluster.js';

export function crd(): Record<string, unknown> {
  const schema = plainSchema(
    Type.Object({
      apiVersion: Type.Optional(Type.String()),
      kind: Type.Optional(Type.String()),
      metadata: Type.Optional(Type.Unsafe({ type: 'object' })),
      spec: SpecSchema,
      status: Type.Optional(StatusSchema),
    }),
  );
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: 'kvcluster',
        shortNames: ['kvc'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: schema },
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.replicas',
              statusReplicasPath: '.status.replicas',
              labelSelectorPath: '.status.selector',
            },
          },
          additionalPrinterColumns: [
            { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
            { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas' },
            { name: 'Leader', type: 'string', jsonPath: '.status.leader' },
            {
              name: 'Healthy',
              type: 'integer',
              jsonPath: '.status.quorum.healthy',
              description: 'Healthy voters',
            },
            { name: 'Quorum', type: 'integer', jsonPath: '.status.quorum.size' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  };
}
