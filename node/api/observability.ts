// Health and metrics: served on the client port, and alone on etcd's --listen-metrics-urls, so
// probes and Prometheus can reach them without a client certificate when the client port needs one.
import type { RequestListener } from 'node:http';
import express, { Router } from 'express';
import type { PromMetrics } from './metrics.js';
import type { KvService } from './service.js';

export function observabilityRoutes(service: KvService, metrics: PromMetrics): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    service.health().then(
      (reason) => res.status(reason ? 503 : 200).json({ health: reason ? 'false' : 'true', reason }),
      (e: unknown) => res.status(503).json({ health: 'false', reason: String(e) }),
    );
  });
  router.get('/livez', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  router.get('/readyz', (_req, res) => {
    // As etcd, which serves clients only once its client URLs are in the member list.
    const s = service.member.status();
    const why =
      s.leader === ''
        ? 'no leader'
        : s.applied < s.commit - 1000
          ? 'not caught up'
          : !s.published
            ? 'client URLs not yet in the member list'
            : '';
    res
      .status(why ? 503 : 200)
      .type('text/plain')
      .send(why ? `not ready: ${why}` : 'ok');
  });
  router.get('/metrics', (_req, res) => {
    metrics.registry.metrics().then(
      (text) => res.type(metrics.registry.contentType).send(text),
      (e: unknown) => res.status(500).send(String(e)),
    );
  });
  return router;
}

/** The listener for a --listen-metrics-urls port: health and metrics only. */
export function createMetricsApi(service: KvService, metrics: PromMetrics): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.use(observabilityRoutes(service, metrics));
  app.use((req, res) => {
    res
      .status(404)
      .type('text/plain')
      .send(`no such endpoint on the metrics port: ${req.method} ${req.path}`);
  });
  return app;
}
