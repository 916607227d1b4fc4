CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`room_id` text DEFAULT '' NOT NULL,
	`target_user_id` text DEFAULT '' NOT NULL,
	`target` text DEFAULT '' NOT NULL,
	`reason` text DEFAULT '' NOT NULL,
	`detail` text DEFAULT '{}' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_tenant_idx` ON `audit_log` (`tenant_id`,`id`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tenant_id` text NOT NULL,
	`type` integer NOT NULL,
	`room_id` text DEFAULT '' NOT NULL,
	`user_id` text DEFAULT '' NOT NULL,
	`actor` text NOT NULL,
	`at` integer NOT NULL,
	`reason` text DEFAULT '' NOT NULL,
	`token_id` text DEFAULT '' NOT NULL,
	`message_id` text DEFAULT '' NOT NULL,
	`role` text DEFAULT '' NOT NULL,
	`until` integer
);
--> statement-breakpoint
CREATE INDEX `events_tenant_room_idx` ON `events` (`tenant_id`,`room_id`,`id`);--> statement-breakpoint
CREATE TABLE `restrictions` (
	`tenant_id` text NOT NULL,
	`room_id` text NOT NULL,
	`user_id` text NOT NULL,
	`kind` text NOT NULL,
	`until` integer,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `room_id`, `user_id`, `kind`)
);
--> statement-breakpoint
CREATE TABLE `revocations` (
	`id` integer PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`kind` text NOT NULL,
	`token_id` text,
	`user_id` text,
	`room_id` text,
	`at` integer NOT NULL,
	`expires_at` integer
);
--> statement-breakpoint
CREATE INDEX `revocations_expires_idx` ON `revocations` (`expires_at`);--> statement-breakpoint
DROP INDEX `grants_tenant_room_idx`;--> statement-breakpoint
DROP INDEX `grants_tenant_user_idx`;--> statement-breakpoint
CREATE INDEX `grants_member_idx` ON `grants` (`tenant_id`,`room_id`,`user_id`);