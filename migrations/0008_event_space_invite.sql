ALTER TABLE `events` ADD `space_id` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `events` ADD `invite_id` text DEFAULT '' NOT NULL;