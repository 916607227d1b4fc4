ALTER TABLE `invites` ADD `role_expires_at` integer;--> statement-breakpoint
ALTER TABLE `room_members` ADD `expires_at` integer;--> statement-breakpoint
CREATE INDEX `room_members_expires_idx` ON `room_members` (`expires_at`);--> statement-breakpoint
ALTER TABLE `space_members` ADD `expires_at` integer;--> statement-breakpoint
CREATE INDEX `space_members_expires_idx` ON `space_members` (`expires_at`);--> statement-breakpoint
ALTER TABLE `users` ADD `tenant_moderator_expires_at` integer;--> statement-breakpoint
CREATE INDEX `users_tenant_moderator_expires_idx` ON `users` (`tenant_moderator_expires_at`);