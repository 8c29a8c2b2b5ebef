import { StudentStatusRow, type StudentState } from '../domain/assignments';
import { showInZone } from '../domain/zoned-time';
import * as store from '../store/catalog/assignments';
import { manageAssignment } from './assignments';
import type { Principal, ServiceDeps } from './deps';

/** What a student's row says, from their hand-ins and feedback, at `now`. */
function stateOf(a: store.AssignmentRow, s: store.StudentRow, handins: store.HandinRow[], feedback: store.FeedbackRow[], now: Date): StudentState {
  if (a.status === 'cancelled') return 'cancelled';
  if (a.status === 'scheduled') return 'scheduled';
  if (feedback.some((f) => f.releasedAt)) return 'feedback released';
  if (feedback.length) return 'feedback stored';
  const latest = handins[handins.length - 1];
  const deadline = s.extendedUntil ?? a.dueAt;
  if (s.extendedUntil && now < s.extendedUntil && (!latest || latest.autoCollected)) return 'extended';
  if (latest) return latest.autoCollected ? 'auto-collected' : latest.late ? 'late' : 'handed in';
  return now < deadline ? 'open' : 'missed';
}

/** `assignments status`: one row per student. */
export async function assignmentStatus(deps: ServiceDeps, p: Principal, org: string, space: string, slug: string): Promise<StudentStatusRow[]> {
  const { assignment: a } = await manageAssignment(deps, p, org, space, slug, 'reading the status of an assignment');
  const db = deps.catalog.db;
  const now = new Date();
  const [students, handins, feedback] = await Promise.all([store.listStudents(db, a.id), store.listHandins(db, a.id), store.listFeedback(db, a.id)]);
  return students.map((s) => {
    const mine = handins.filter((h) => h.instanceId === s.instanceId);
    const fb = feedback.filter((f) => f.instanceId === s.instanceId);
    const latest = mine[mine.length - 1];
    return StudentStatusRow.parse({
      student: s.ownerEmail,
      instance: s.slug,
      state: stateOf(a, s, mine, fb, now),
      latest_version: latest?.version ?? null,
      handed_in_at: latest ? showInZone(latest.handedInAt, a.timezone) : null,
      sha256: latest?.manifestSha256 ?? null,
      late: latest?.late ?? false,
      auto_collected: latest?.autoCollected ?? false,
      effective_deadline: showInZone(s.extendedUntil ?? a.dueAt, a.timezone),
      extended_until: showInZone(s.extendedUntil, a.timezone),
      feedback: fb.some((f) => f.releasedAt) ? 'released' : fb.length ? 'stored' : 'none',
    });
  });
}
