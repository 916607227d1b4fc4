CREATE INDEX `users_tenant_created_idx` ON `users` (`tenant_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `users_tenant_external_idx` ON `users` (`tenant_id`,`external_user_id`);