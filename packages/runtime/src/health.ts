import { isIPv6 } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { health } from '@seedbox/proto';

/**
 * grpc.health.v1.Health for every service, so Kubernetes gRPC probes and
 * grpc-health-probe can ask it, and the gRPC server it is served from.
 * Behaviour follows the published protocol: Check answers NOT_FOUND for a
 * service it was never told about; Watch sends SERVICE_UNKNOWN for one and
 * keeps the stream open, since the service may register later.
 */

export type HealthStatus = 'SERVING' | 'NOT_SERVING';

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = health.HealthCheckResponse_ServingStatus;
type Watcher = grpc.ServerWritableStream<health.HealthCheckRequest, health.HealthCheckResponse>;

export class HealthService {
  readonly definition: grpc.ServiceDefinition = health.HealthService;
  readonly implementation: health.HealthServer;
  private readonly statuses = new Map<string, health.HealthCheckResponse_ServingStatus>();
  private readonly watchers = new Map<string, Set<Watcher>>();
  private shuttingDown = false;

  /**
   * `initial` defaults to the overall status ('') SERVING, as grpc-java's
   * HealthStatusManager does: a process that answers is serving unless told
   * otherwise.
   */
  constructor(initial: Readonly<Record<string, HealthStatus>> = { '': 'SERVING' }) {
    for (const [service, status] of Object.entries(initial)) this.statuses.set(service, toEnum(status));
    this.implementation = {
      check: (call, callback) => {
        const status = this.statuses.get(call.request.service);
        if (status === undefined) {
          callback({ code: grpc.status.NOT_FOUND, details: `Health status unknown for service ${call.request.service}` });
          return;
        }
        callback(null, { status });
      },
      watch: (call) => this.watch(call),
    };
  }

  /** Set a service's status ('' = the whole process); watchers hear of a change. Ignored after shutdown(). */
  setStatus(service: string, status: HealthStatus): void {
    if (this.shuttingDown) return;
    this.update(service, toEnum(status));
  }

  getStatus(service: string): HealthStatus | undefined {
    const s = this.statuses.get(service);
    return s === undefined ? undefined : s === SERVING ? 'SERVING' : 'NOT_SERVING';
  }

  /**
   * Every service NOT_SERVING for good (so probes stop routing here), then the
   * Watch streams end, so a graceful server shutdown does not wait its whole
   * grace period for them.
   */
  shutdown(): void {
    if (this.shuttingDown) return;
    for (const service of this.statuses.keys()) this.update(service, NOT_SERVING);
    this.shuttingDown = true;
    for (const set of this.watchers.values()) for (const call of set) call.end();
    this.watchers.clear();
  }

  private update(service: string, status: health.HealthCheckResponse_ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const call of this.watchers.get(service) ?? []) call.write({ status });
  }

  private watch(call: Watcher): void {
    const service = call.request.service;
    call.write({ status: this.statuses.get(service) ?? SERVICE_UNKNOWN });
    if (this.shuttingDown) {
      call.end();
      return;
    }
    let set = this.watchers.get(service);
    if (set === undefined) this.watchers.set(service, (set = new Set()));
    set.add(call);
    const forget = (): void => {
      set.delete(call);
      if (set.size === 0 && this.watchers.get(service) === set) this.watchers.delete(service);
    };
    call.on('cancelled', forget);
    call.on('error', forget);
  }

  /** Watch streams open now; for tests and for the shutdown log line. */
  get watcherCount(): number {
    let n = 0;
    for (const set of this.watchers.values()) n += set.size;
    return n;
  }
}

function toEnum(status: HealthStatus): health.HealthCheckResponse_ServingStatus {
  return status === 'SERVING' ? SERVING : NOT_SERVING;
}

export interface GrpcServiceEntry {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port; the result has the real one. */
  port: number;
  services: readonly GrpcServiceEntry[];
  /** Insecure unless given (grpcAccessOf makes TLS ones); the interceptors go in options. */
  credentials?: grpc.ServerCredentials;
  options?: grpc.ServerOptions;
}

export interface RunningGrpcServer {
  readonly server: grpc.Server;
  readonly port: number;
  /** Finish the calls in progress for up to graceMs, then cut the rest. */
  close(graceMs: number): Promise<void>;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const server = new grpc.Server(options.options);
  for (const s of options.services) server.addService(s.definition, s.implementation);
  const address = isIPv6(options.host) ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  // The server starts serving once bound (grpc-js >= 1.10 made start() a no-op).
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, options.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  return {
    server,
    port,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
