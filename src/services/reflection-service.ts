import { create, type DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflectionResponseSchema as V1Response,
  type ServerReflection as V1,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflectionResponseSchema as V1AlphaResponse,
  type ServerReflection as V1Alpha,
} from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { answer, type Question } from "./reflection/answers.js";
import { DescriptorIndex } from "./reflection/descriptor-index.js";

/**
 * gRPC server reflection (`grpc.reflection.v1` and the older `v1alpha`
 * that grpcurl and many clients still try first), so `buf curl` and grpcurl
 * list and call every service with no local schema. Answers from the
 * generated descriptors of exactly the services the router serves, with
 * each file's transitive imports. Needs no credential, like health: the
 * contract is public (it is in the repository), and a schema-less client
 * asks before it knows which credential a call needs.
 */
export class ReflectionService {
  /** `grpc.reflection.v1.ServerReflection`. */
  readonly v1: ServiceImpl<typeof V1>;
  /** `grpc.reflection.v1alpha.ServerReflection` (same protocol, older package). */
  readonly v1alpha: ServiceImpl<typeof V1Alpha>;

  /** @param served every service the router serves, reflection included. */
  constructor(served: readonly DescService[]) {
    const index = new DescriptorIndex(served);
    this.v1 = {
      serverReflectionInfo: (questions) =>
        answerEach(questions, (q) =>
          create(V1Response, { validHost: q.host, originalRequest: q, messageResponse: answer(index, q) }),
        ),
    };
    this.v1alpha = {
      serverReflectionInfo: (questions) =>
        answerEach(questions, (q) =>
          create(V1AlphaResponse, { validHost: q.host, originalRequest: q, messageResponse: answer(index, q) }),
        ),
    };
  }
}

/** One answer per question, in order, until the client closes its side. */
async function* answerEach<Q extends Question, R>(
  questions: AsyncIterable<Q>,
  respond: (q: Q) => R,
): AsyncGenerator<R> {
  for await (const q of questions) yield respond(q);
}
