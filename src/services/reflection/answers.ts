import { Code } from "@connectrpc/connect";
import type { DescriptorIndex } from "./descriptor-index.js";

/**
 * A reflection request as both protocol versions carry it (v1 and v1alpha
 * share field names and numbers; only the package differs).
 */
export interface Question {
  readonly host: string;
  readonly messageRequest:
    | { readonly case: "fileByFilename"; readonly value: string }
    | { readonly case: "fileContainingSymbol"; readonly value: string }
    | {
        readonly case: "fileContainingExtension";
        readonly value: { readonly containingType: string; readonly extensionNumber: number };
      }
    | { readonly case: "allExtensionNumbersOfType"; readonly value: string }
    | { readonly case: "listServices"; readonly value: string }
    | { readonly case: undefined; readonly value?: undefined };
}

/** The `message_response` oneof of a reflection answer, in either version's shape. */
export type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * Answers one reflection request from the index. A lookup that finds
 * nothing is an `error_response` on the stream (NOT_FOUND), as the protocol
 * asks, not a failed call: the client keeps its stream for the next question.
 */
export function answer(index: DescriptorIndex, q: Question): Answer {
  const r = q.messageRequest;
  switch (r.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.serviceNames.map((name) => ({ name })) } };
    case "fileByFilename":
      return files(index, index.fileByName(r.value), `file not found: ${r.value}`);
    case "fileContainingSymbol":
      return files(index, index.fileOfSymbol(r.value), `symbol not found: ${r.value}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = r.value;
      return files(
        index,
        index.fileOfExtension(containingType, extensionNumber),
        `extension not found: ${containingType}(${extensionNumber})`,
      );
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbersOf(r.value);
      if (numbers === undefined) return error(Code.NotFound, `type not found: ${r.value}`);
      return { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: numbers } };
    }
    default:
      return error(Code.InvalidArgument, "empty reflection request: set one of message_request");
  }
}

function files(index: DescriptorIndex, file: ReturnType<DescriptorIndex["fileByName"]>, notFound: string): Answer {
  if (!file) return error(Code.NotFound, notFound);
  return {
    case: "fileDescriptorResponse",
    value: { fileDescriptorProto: index.withDependencies(file).map((f) => index.encode(f)) },
  };
}

// connect's Code values are the gRPC status codes the protocol expects.
function error(code: Code, message: string): Answer {
  return { case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}
