CREATE TABLE "distributions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"task_id" text NOT NULL,
	"source_instance_id" uuid NOT NULL,
	"source_subject" text NOT NULL,
	"source_snapshot" text NOT NULL,
	"request" jsonb NOT NULL,
	"group_space_id" uuid,
	"stage_object_sha256" text,
	"actor" text NOT NULL,
	"created_by" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "distributions_task_id_unique" UNIQUE("task_id")
);
--> statement-breakpoint
CREATE TABLE "outbox_mails" (
	"id" uuid PRIMARY KEY NOT NULL,
	"mail_key" text NOT NULL,
	"task_id" text NOT NULL,
	"recipient" text NOT NULL,
	"subject" text NOT NULL,
	"body" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"claimed_until" timestamp with time zone,
	"attempts" bigint DEFAULT 0 NOT NULL,
	"last_error" text,
	CONSTRAINT "outbox_mails_mail_key_unique" UNIQUE("mail_key")
);
--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "group" text;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "owner_id" uuid;--> statement-breakpoint
ALTER TABLE "distributions" ADD CONSTRAINT "distributions_source_instance_id_instances_id_fk" FOREIGN KEY ("source_instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distributions" ADD CONSTRAINT "distributions_group_space_id_spaces_id_fk" FOREIGN KEY ("group_space_id") REFERENCES "public"."spaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distributions" ADD CONSTRAINT "distributions_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "distributions_group_space" ON "distributions" USING btree ("group_space_id");--> statement-breakpoint
CREATE INDEX "outbox_mails_task" ON "outbox_mails" USING btree ("task_id");--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;