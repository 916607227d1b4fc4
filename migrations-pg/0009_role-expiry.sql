ALTER TABLE "invites" ADD COLUMN "role_expires_at" bigint;--> statement-breakpoint
ALTER TABLE "room_members" ADD COLUMN "expires_at" bigint;--> statement-breakpoint
ALTER TABLE "space_members" ADD COLUMN "expires_at" bigint;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "tenant_moderator_expires_at" bigint;--> statement-breakpoint
CREATE INDEX "room_members_expires_idx" ON "room_members" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "space_members_expires_idx" ON "space_members" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "users_tenant_moderator_expires_idx" ON "users" USING btree ("tenant_moderator_expires_at");