-- Hand-edited from drizzle-kit's output: its table rebuild (PRAGMA foreign_keys=OFF, DROP TABLE spaces) cannot work inside the
-- migrator's transaction, where that PRAGMA is a no-op: dropping spaces with rooms, members or invites fails on their
-- foreign keys. So the rows that reference spaces are kept aside, the old table dropped empty of them, and they are put back.
-- Keep this edit if the migrations are ever regenerated.
CREATE TABLE `__new_spaces` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`is_public` integer DEFAULT false NOT NULL,
	`owner_user_id` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `__new_spaces`("id", "tenant_id", "name", "is_public", "owner_user_id", "created_at") SELECT "id", "tenant_id", "name", "is_public", "owner_user_id", "created_at" FROM `spaces`;--> statement-breakpoint
CREATE TEMP TABLE `__keep_rooms` AS SELECT * FROM `rooms` WHERE `space_id` IS NOT NULL;--> statement-breakpoint
CREATE TEMP TABLE `__keep_space_members` AS SELECT * FROM `space_members`;--> statement-breakpoint
CREATE TEMP TABLE `__keep_invites` AS SELECT * FROM `invites`;--> statement-breakpoint
DELETE FROM `invites`;--> statement-breakpoint
DELETE FROM `space_members`;--> statement-breakpoint
DELETE FROM `rooms` WHERE `space_id` IS NOT NULL;--> statement-breakpoint
DROP TABLE `spaces`;--> statement-breakpoint
ALTER TABLE `__new_spaces` RENAME TO `spaces`;--> statement-breakpoint
INSERT INTO `rooms` SELECT * FROM `__keep_rooms`;--> statement-breakpoint
INSERT INTO `space_members` SELECT * FROM `__keep_space_members`;--> statement-breakpoint
INSERT INTO `invites` SELECT * FROM `__keep_invites`;--> statement-breakpoint
DROP TABLE `__keep_rooms`;--> statement-breakpoint
DROP TABLE `__keep_space_members`;--> statement-breakpoint
DROP TABLE `__keep_invites`;--> statement-breakpoint
CREATE INDEX `spaces_tenant_idx` ON `spaces` (`tenant_id`);--> statement-breakpoint
ALTER TABLE `invites` ADD `revoked_at` integer;
