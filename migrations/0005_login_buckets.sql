CREATE TABLE `login_buckets` (
	`key` text PRIMARY KEY NOT NULL,
	`tokens_milli` integer NOT NULL,
	`at` integer NOT NULL
);
