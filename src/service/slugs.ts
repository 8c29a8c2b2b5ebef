import { Slug, slugify } from '../domain/slugs';
import { invalidInput } from './errors';

/** The slug given, else one derived from the display name; a clear error when the name gives none. */
export function slugOrDerived(given: string | undefined, name: string): string {
  const slug = given ?? slugify(name);
  if (!Slug.safeParse(slug).success) throw invalidInput(`cannot derive a valid slug from the name "${name}"; pass --slug`);
  return slug;
}
