DROP INDEX `users_tenant_username_uq`;--> statement-breakpoint
ALTER TABLE `users` ADD `username_key` text;--> statement-breakpoint
CREATE UNIQUE INDEX `users_tenant_username_key_uq` ON `users` (`tenant_id`,`username_key`) WHERE kind = 'registered';--> statement-breakpoint
ALTER TABLE `access_links` ADD `revoked_at` integer;--> statement-breakpoint
CREATE INDEX `access_links_room_idx` ON `access_links` (`tenant_id`,`room_id`,`created_at`);--> statement-breakpoint
-- Private rooms are now reached only through a room role (a space role never
-- opens one by itself); a room's creator gets role_room_moderator when the
-- room is made, so rooms made before this get theirs here.
INSERT OR IGNORE INTO `room_members` (`tenant_id`, `room_id`, `user_id`, `role`, `granted_by`, `created_at`)
SELECT `tenant_id`, `id`, `creator_user_id`, 'role_room_moderator', `creator_user_id`, `created_at` FROM `rooms` WHERE `creator_user_id` IS NOT NULL;
