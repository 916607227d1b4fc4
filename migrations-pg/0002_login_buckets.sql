CREATE TABLE "login_buckets" (
	"key" text PRIMARY KEY NOT NULL,
	"tokens_milli" bigint NOT NULL,
	"at" bigint NOT NULL
);
