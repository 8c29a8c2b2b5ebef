CREATE TABLE "apps" (
	"id" uuid PRIMARY KEY NOT NULL,
	"instance_id" uuid NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"base_image" text NOT NULL,
	"packages" jsonb NOT NULL,
	"env" jsonb NOT NULL,
	"startup_command" text NOT NULL,
	"licensed" boolean NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "snapshots" (
	"id" uuid PRIMARY KEY NOT NULL,
	"instance_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"kind" text NOT NULL,
	"object_sha256" text NOT NULL,
	"files_tree" text NOT NULL,
	"file_count" bigint NOT NULL,
	"byte_count" bigint NOT NULL,
	"table_count" bigint NOT NULL,
	"app_count" bigint NOT NULL,
	"task_id" text,
	"created_by" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "apps" ADD CONSTRAINT "apps_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "snapshots" ADD CONSTRAINT "snapshots_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "snapshots" ADD CONSTRAINT "snapshots_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "apps_instance_slug" ON "apps" USING btree ("instance_id","slug");--> statement-breakpoint
CREATE UNIQUE INDEX "snapshots_instance_name" ON "snapshots" USING btree ("instance_id","name");--> statement-breakpoint
CREATE INDEX "snapshots_instance" ON "snapshots" USING btree ("instance_id");