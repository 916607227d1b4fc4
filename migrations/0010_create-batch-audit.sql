ALTER TABLE `audit_log` ADD `room_ids` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `audit_log` ADD `target_user_ids` text DEFAULT '' NOT NULL;