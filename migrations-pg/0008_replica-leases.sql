CREATE TABLE "replicas" (
	"id" text PRIMARY KEY NOT NULL,
	"server_id" text NOT NULL,
	"applied_id" bigint NOT NULL,
	"renewed_at" bigint NOT NULL,
	"lease_ms" bigint NOT NULL
);
