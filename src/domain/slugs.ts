import { z } from 'zod';

/** A slug: lowercase letters, digits, `_` and `-`, 1–63 characters, starting with a letter or digit. */
export const Slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a slug is 1–63 characters of a-z, 0-9, "_" and "-", starting with a letter or digit');
export type Slug = z.infer<typeof Slug>;

/** Derives a slug from a display name ("Intro to Stats 2026" → "intro_to_stats_2026"). */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^[_-]+|[_-]+$/g, '')
    .slice(0, 63);
}

export const DisplayName = z.string().trim().min(1, 'a name must not be empty').max(200, 'a name is at most 200 characters');
export const Description = z.string().max(2000, 'a description is at most 2000 characters');
