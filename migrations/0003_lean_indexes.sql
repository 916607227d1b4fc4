DROP INDEX `audit_tenant_room_idx`;--> statement-breakpoint
DROP INDEX `audit_tenant_user_idx`;--> statement-breakpoint
DROP INDEX `grants_tenant_room_idx`;--> statement-breakpoint
DROP INDEX `grants_tenant_user_idx`;--> statement-breakpoint
CREATE INDEX `grants_member_idx` ON `grants` (`tenant_id`,`room_id`,`user_id`);