/**
 * Glossary — the words every layer of Handout shares.
 *
 * - org / space / instance: the workspace hierarchy, addressed by slugs.
 * - current state: an instance's one mutable state (the CLI's snapshot `development`).
 * - task: an asynchronous operation; its id is the Temporal workflow id.
 * - actor: the user on whose behalf an action runs (`user:<e-mail>`) or `system`.
 * - audit event: one appended, hash-chained record of a state-changing action.
 * - grant: a role a user holds on a space (space_admin) or an instance (instance_editor/viewer).
 * - snapshot: a named, immutable record of an instance's files, tables and apps; `development` is the current state.
 * - blob: immutable bytes stored under their sha256; trees, tables and snapshot objects are blobs too.
 */
export {};
