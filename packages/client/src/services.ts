// The generated descriptors and message types of every roomgate service, one
// namespace per protobuf package. Several packages each name their service
// `Service` (and share message names such as `CreateUserRequest`), so a flat
// re-export would collide: `tokensPrivateV1.Service`, `spacesV1.Space`, …

/** `grpc.health.v1`: the standard gRPC health check. */
export * as healthV1 from "../gen/grpc/health/v1/health_pb.js";
/** `room.access.v1`: redeeming access links (anonymous or end user). */
export * as accessV1 from "../gen/room/access/v1/service_pb.js";
/** `room.audit.private.v1`: the audit log (API key). */
export * as auditPrivateV1 from "../gen/room/audit/private/v1/service_pb.js";
/** `room.consumer.private.v1`: seed 003 users and moderators (API key). */
export * as consumerPrivateV1 from "../gen/room/consumer/private/v1/service_pb.js";
/** `room.errors.v1`: error details (`RoomAccessDenied`) carried by refusals. */
export * as errorsV1 from "../gen/room/errors/v1/errors_pb.js";
/** `room.events.private.v1`: the resumable event stream (API key). */
export * as eventsPrivateV1 from "../gen/room/events/private/v1/service_pb.js";
/** `room.moderation.private.v1`: moderation on behalf of the tenant (API key). */
export * as moderationPrivateV1 from "../gen/room/moderation/private/v1/service_pb.js";
/** `room.moderation.v1`: moderation by end users. */
export * as moderationV1 from "../gen/room/moderation/v1/service_pb.js";
/** `room.permissions.v1`: the `Permission` enum and room permission reads. */
export * as permissionsV1 from "./permissions-v1.js";
/** `room.spaces.private.v1`: spaces, rooms, invites and roles (API key). */
export * as spacesPrivateV1 from "../gen/room/spaces/private/v1/service_pb.js";
/** `room.spaces.v1`: spaces and rooms for end users. */
export * as spacesV1 from "../gen/room/spaces/v1/service_pb.js";
/** `room.tokens.private.v1`: room member tokens: create, verify, revoke (API key). */
export * as tokensPrivateV1 from "../gen/room/tokens/private/v1/service_pb.js";
/** `room.tokens.v1`: the claims a room member token carries. */
export * as tokensV1 from "../gen/room/tokens/v1/claims_pb.js";
/** `room.users.private.v1`: tenant users (API key). */
export * as usersPrivateV1 from "../gen/room/users/private/v1/service_pb.js";
/** `room.webhooks.private.v1`: signed webhook endpoints and their deliveries (API key). */
export * as webhooksPrivateV1 from "../gen/room/webhooks/private/v1/service_pb.js";
/** `room.users.v1`: end-user login. */
export * as usersV1 from "../gen/room/users/v1/service_pb.js";
