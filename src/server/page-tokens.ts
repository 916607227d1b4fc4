import { clone, type DescField, type DescMessage, type Message, toBinary } from "@bufbuild/protobuf";
import type { ContextValues, Interceptor, UnaryRequest } from "@connectrpc/connect";
import type { PageScope, PageTokenSeal } from "../domain/paging.js";

/** The fields a list call pages with, found once per method. */
interface PagedFields {
  readonly token: DescField;
  readonly size: DescField | undefined;
  readonly next: DescField;
  readonly fresh: DescField | undefined;
}

const pagedOf = new WeakMap<object, PagedFields | null>();

/**
 * Seals every list call's page tokens (issue 19, SPEC "Page tokens are
 * sealed and bound to tenant, call and filters"). A list call is any unary
 * method whose request has `page_token` and whose response has
 * `next_page_token`: the request's token is opened here (invalid_argument
 * when it was edited, truncated, or made for another tenant, call or set of
 * filters) and the list sees its own inner position token; the response's
 * next token is sealed on the way out. One place for every list, new ones
 * included, so no list can forget it. Runs after the credential interceptors:
 * the tenant is known. A call without a credential passes untouched — the
 * service refuses it (unauthenticated) before reading the token.
 */
export function pageTokenInterceptor(
  seal: PageTokenSeal,
  tenantOf: (v: ContextValues) => string | undefined,
): Interceptor {
  return (next) => (req) => {
    if (req.stream) return next(req);
    // Most calls (Verify among them) have no page token: leave before anything else is looked at.
    const fields = pagedFields(req.method);
    if (!fields) return next(req);
    const tenantId = tenantOf(req.contextValues);
    if (tenantId === undefined) return next(req);
    let scope: PageScope;
    try {
      scope = scopeOf(req, fields, tenantId);
      const message = req.message as Record<string, unknown>;
      const token = message[fields.token.localName];
      if (typeof token === "string" && token !== "") message[fields.token.localName] = seal.open(scope, token);
    } catch (err) {
      return Promise.reject(err);
    }
    return next(req).then((res) => {
      if (res.stream) return res;
      const out = res.message as Record<string, unknown>;
      const inner = out[fields.next.localName];
      if (typeof inner === "string" && inner !== "") out[fields.next.localName] = seal.seal(scope, inner);
      return res;
    });
  };
}

/** Tenant, procedure and the request's filters: the request without its page size, token and consistency token, in binary. */
function scopeOf(req: UnaryRequest, fields: PagedFields, tenantId: string): PageScope {
  const filters = clone(req.method.input, req.message) as Record<string, unknown> & Message;
  filters[fields.token.localName] = "";
  if (fields.size) filters[fields.size.localName] = 0;
  // A consistency token is how fresh a page must be, not what it lists: later pages may ask fresher.
  if (fields.fresh) filters[fields.fresh.localName] = BigInt(0);
  return {
    tenantId,
    call: `${req.service.typeName}/${req.method.name}`,
    filters: toBinary(req.method.input, filters),
  };
}

function pagedFields(method: { readonly input: DescMessage; readonly output: DescMessage }): PagedFields | undefined {
  const { input, output } = method;
  let found = pagedOf.get(method);
  if (found === undefined) {
    const token = input.fields.find((f) => f.name === "page_token" && f.fieldKind === "scalar");
    const next = output.fields.find((f) => f.name === "next_page_token" && f.fieldKind === "scalar");
    const size = input.fields.find((f) => f.name === "page_size" && f.fieldKind === "scalar");
    const fresh = input.fields.find((f) => f.name === "min_event_id" && f.fieldKind === "scalar");
    found = token && next ? { token, next, size, fresh } : null;
    pagedOf.set(method, found);
  }
  return found ?? undefined;
}
