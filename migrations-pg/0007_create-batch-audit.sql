ALTER TABLE "audit_log" ADD COLUMN "room_ids" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_log" ADD COLUMN "target_user_ids" text DEFAULT '' NOT NULL;