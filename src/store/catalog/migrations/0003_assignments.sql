CREATE TABLE "assignment_students" (
	"assignment_id" uuid NOT NULL,
	"instance_id" uuid NOT NULL,
	"extended_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "assignments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"space_id" uuid NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"source_instance_id" uuid NOT NULL,
	"source_snapshot" text NOT NULL,
	"material" jsonb NOT NULL,
	"handin_paths" jsonb NOT NULL,
	"group_target" boolean NOT NULL,
	"timezone" text NOT NULL,
	"release_at" timestamp with time zone,
	"due_at" timestamp with time zone NOT NULL,
	"late_policy" text NOT NULL,
	"cutoff_at" timestamp with time zone,
	"size_limit_bytes" bigint,
	"notify" boolean NOT NULL,
	"message" text DEFAULT '' NOT NULL,
	"handback_visible" boolean DEFAULT false NOT NULL,
	"status" text NOT NULL,
	"task_id" text NOT NULL,
	"actor" text NOT NULL,
	"created_by" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "feedback" (
	"id" uuid PRIMARY KEY NOT NULL,
	"assignment_id" uuid NOT NULL,
	"instance_id" uuid NOT NULL,
	"handin_version" bigint NOT NULL,
	"version" bigint NOT NULL,
	"grade" text,
	"comment" text,
	"files_tree" text,
	"created_by" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"released_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "handins" (
	"id" uuid PRIMARY KEY NOT NULL,
	"assignment_id" uuid NOT NULL,
	"instance_id" uuid NOT NULL,
	"version" bigint NOT NULL,
	"handed_in_at" timestamp with time zone NOT NULL,
	"tree_sha256" text NOT NULL,
	"manifest_sha256" text NOT NULL,
	"file_count" bigint NOT NULL,
	"byte_count" bigint NOT NULL,
	"late" boolean NOT NULL,
	"auto_collected" boolean NOT NULL,
	"identifier" text,
	"actor" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "assignment_students" ADD CONSTRAINT "assignment_students_assignment_id_assignments_id_fk" FOREIGN KEY ("assignment_id") REFERENCES "public"."assignments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "assignment_students" ADD CONSTRAINT "assignment_students_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "assignments" ADD CONSTRAINT "assignments_space_id_spaces_id_fk" FOREIGN KEY ("space_id") REFERENCES "public"."spaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "assignments" ADD CONSTRAINT "assignments_source_instance_id_instances_id_fk" FOREIGN KEY ("source_instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "assignments" ADD CONSTRAINT "assignments_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "feedback" ADD CONSTRAINT "feedback_assignment_id_assignments_id_fk" FOREIGN KEY ("assignment_id") REFERENCES "public"."assignments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "feedback" ADD CONSTRAINT "feedback_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "feedback" ADD CONSTRAINT "feedback_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "handins" ADD CONSTRAINT "handins_assignment_id_assignments_id_fk" FOREIGN KEY ("assignment_id") REFERENCES "public"."assignments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "handins" ADD CONSTRAINT "handins_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "assignment_students_pk" ON "assignment_students" USING btree ("assignment_id","instance_id");--> statement-breakpoint
CREATE UNIQUE INDEX "assignments_space_slug" ON "assignments" USING btree ("space_id","slug");--> statement-breakpoint
CREATE UNIQUE INDEX "feedback_version" ON "feedback" USING btree ("assignment_id","instance_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "handins_version" ON "handins" USING btree ("assignment_id","instance_id","version");