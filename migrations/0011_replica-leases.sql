CREATE TABLE `replicas` (
	`id` text PRIMARY KEY NOT NULL,
	`server_id` text NOT NULL,
	`applied_id` integer NOT NULL,
	`renewed_at` integer NOT NULL,
	`lease_ms` integer NOT NULL
);
