ALTER TABLE "events" ADD COLUMN "space_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "invite_id" text DEFAULT '' NOT NULL;