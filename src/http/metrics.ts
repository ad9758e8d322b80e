import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChannelType } from '../domain/channel.js';

export interface OutboxStats {
  depth: number;
  oldestAgeSeconds: number;
}

export interface EventDeliveryStats {
  pending: number;
  oldestUndeliveredAgeSeconds: number;
}

/**
 * The service's Prometheus metrics, one registry per app (tests build many apps in one
 * process). Services report into it through small methods; /metrics renders it.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly sessionsCreated = new Counter({
    name: 'sessions_created_total',
    help: 'Sessions initiated, by channel.',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'session_refusals_total',
    help: 'Refused session initiations, by problem code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: 'deliveries_total',
    help: 'Delivery attempts by channel and outcome (sent, retry, failed).',
    labelNames: ['channel', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly eventDeliveries = new Counter({
    name: 'event_deliveries_total',
    help: 'Webhook attempts for events by outcome (delivered, retry, failed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly batchRecipients = new Counter({
    name: 'batch_recipients_total',
    help: 'Session batch recipients initiated, by outcome (created, refused).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(
    options: {
      pool?: pg.Pool | null;
      outboxStats?: () => Promise<OutboxStats>;
      eventStats?: () => Promise<EventDeliveryStats>;
      runningBatches?: () => Promise<number>;
      defaultMetrics?: boolean;
    } = {},
  ) {
    const { pool, outboxStats, eventStats, runningBatches } = options;
    if (runningBatches) {
      new Gauge({
        name: 'batches_running',
        help: 'Session batches with recipients still pending.',
        registers: [this.registry],
        async collect() {
          this.set(await runningBatches().catch(() => Number.NaN));
        },
      });
    }
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    if (outboxStats) {
      const oldest = new Gauge({ name: 'outbox_oldest_age_seconds', help: 'Age of the oldest queued outbound message.', registers: [] });
      // One query per scrape feeds both gauges; the depth gauge is collected first.
      new Gauge({
        name: 'outbox_depth',
        help: 'Outbound messages waiting for delivery.',
        registers: [this.registry],
        async collect() {
          const stats = await outboxStats().catch(() => ({ depth: Number.NaN, oldestAgeSeconds: Number.NaN }));
          this.set(stats.depth);
          oldest.set(stats.oldestAgeSeconds);
        },
      });
      this.registry.registerMetric(oldest);
    }
    if (eventStats) {
      const oldest = new Gauge({
        name: 'event_oldest_undelivered_age_seconds',
        help: 'Age of the oldest event an active subscription has not received yet.',
        registers: [],
      });
      new Gauge({
        name: 'event_deliveries_pending',
        help: 'Event delivery rows waiting for another attempt (retries, replays, events a window left untried).',
        registers: [this.registry],
        async collect() {
          const stats = await eventStats().catch(() => ({ pending: Number.NaN, oldestUndeliveredAgeSeconds: Number.NaN }));
          this.set(stats.pending);
          oldest.set(stats.oldestUndeliveredAgeSeconds);
        },
      });
      this.registry.registerMetric(oldest);
    }
    if (pool) {
      const gauge = (name: string, help: string, read: () => number) =>
        new Gauge({
          name,
          help,
          registers: [this.registry],
          collect() {
            this.set(read());
          },
        });
      gauge('db_pool_connections', 'Connections open in the pg pool.', () => pool.totalCount);
      gauge('db_pool_idle_connections', 'Idle connections in the pg pool.', () => pool.idleCount);
      gauge('db_pool_waiting_requests', 'Queries waiting for a pooled connection.', () => pool.waitingCount);
    }
  }

  sessionCreated(channel: ChannelType): void {
    this.sessionsCreated.inc({ channel });
  }

  refused(code: string): void {
    this.refusals.inc({ code });
  }

  recipient(outcome: 'created' | 'refused'): void {
    this.batchRecipients.inc({ outcome });
  }

  delivered(channel: ChannelType, outcome: string): void {
    this.deliveries.inc({ channel, outcome });
  }

  eventDelivered(outcome: string): void {
    this.eventDeliveries.inc({ outcome });
  }
}

/** Request counts and latency for every route, and GET /metrics in Prometheus text. */
export const metricsPlugin = fp<{ metrics: Metrics }>(
  async (app: FastifyInstance, { metrics }) => {
    app.addHook('onResponse', async (request, reply) => {
      const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    });
    app.get('/metrics', { config: { access: 'metrics' }, schema: { hide: true } }, async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    });
  },
  { name: 'metrics' },
);
