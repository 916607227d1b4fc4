// room.permissions.v1 spans two generated files (the enum and the service);
// one module so the package reads as one namespace.
export * from "../gen/room/permissions/v1/permission_pb.js";
export * from "../gen/room/permissions/v1/service_pb.js";
