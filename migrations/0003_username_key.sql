DROP INDEX `users_tenant_username_uq`;--> statement-breakpoint
ALTER TABLE `users` ADD `username_key` text;--> statement-breakpoint
CREATE UNIQUE INDEX `users_tenant_username_key_uq` ON `users` (`tenant_id`,`username_key`) WHERE kind = 'registered';