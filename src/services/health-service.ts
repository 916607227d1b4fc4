import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  HealthCheckResponse_ServingStatus as Status,
  HealthCheckResponseSchema,
  type Health,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "../../gen/grpc/health/v1/health_pb.js";

/** Service names roomgate answers for: the whole server ("") and its own services. */
const KNOWN =
  /^$|^grpc\.health\.v1\.Health$|^grpc\.reflection\.v1(alpha)?\.ServerReflection$|^room\.[a-z]+(\.private)?\.v1\.Service$/;

/**
 * grpc.health.v1.Health for orchestrators and gRPC load balancers: SERVING
 * while the store answers and the server is not shutting down, NOT_SERVING
 * otherwise. Needs no credential.
 */
export class HealthService implements ServiceImpl<typeof Health> {
  constructor(
    private readonly storeAlive: () => Promise<boolean>,
    private readonly shutdown: AbortSignal,
  ) {}

  async check(req: HealthCheckRequest): Promise<HealthCheckResponse> {
    return create(HealthCheckResponseSchema, { status: await this.status(req.service) });
  }

  /** Sends the status now, and NOT_SERVING when the server starts shutting down. */
  async *watch(req: HealthCheckRequest, ctx: HandlerContext): AsyncGenerator<HealthCheckResponse> {
    yield create(HealthCheckResponseSchema, { status: await this.status(req.service) });
    const ended = AbortSignal.any([ctx.signal, this.shutdown]);
    if (!ended.aborted) await new Promise((resolve) => ended.addEventListener("abort", resolve, { once: true }));
    if (this.shutdown.aborted) yield create(HealthCheckResponseSchema, { status: Status.NOT_SERVING });
  }

  private async status(service: string): Promise<Status> {
    if (!KNOWN.test(service)) throw new ConnectError(`unknown service ${service}`, Code.NotFound);
    if (this.shutdown.aborted) return Status.NOT_SERVING;
    try {
      return (await this.storeAlive()) ? Status.SERVING : Status.NOT_SERVING;
    } catch {
      return Status.NOT_SERVING;
    }
  }
}
