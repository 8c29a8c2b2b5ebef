// Wall-clock times in IANA time zones, without a library: Intl knows every zone's offsets, and a
// local time is turned into an instant by asking for the offset at the candidate instant until it
// is stable. Deadlines are stored as instants (UTC) and shown in the assignment's zone.

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at `instant`, in minutes (e.g. +120 for CEST). */
export function offsetMinutes(instant: Date, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(instant);
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(instant.getTime() / 1000) * 1000) / 60_000);
}

const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * Parses a time as the CLI takes it: an ISO instant with `Z` or an offset, or a local wall-clock
 * time (`2027-03-28T23:59`) in `zone`. A local time that does not exist (the hour skipped when clocks
 * go forward) or exists twice (when they go back) is refused with a message that says so.
 */
export function parseZonedTime(text: string, zone: string): { ok: true; instant: Date } | { ok: false; message: string } {
  if (WITH_OFFSET.test(text)) {
    const instant = new Date(text);
    return Number.isNaN(instant.getTime()) ? { ok: false, message: `"${text}" is not a valid time` } : { ok: true, instant };
  }
  const m = LOCAL.exec(text);
  if (!m) return { ok: false, message: `"${text}" is not a time: use 2027-01-31T23:59 (in the assignment's time zone) or an ISO time with Z or an offset` };
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(wall);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return { ok: false, message: `"${text}" is not a valid date and time` };
  // Every instant whose local reading is this wall time: try the offsets in force around it.
  const offsets = new Set([offsetMinutes(new Date(wall - 86_400_000), zone), offsetMinutes(new Date(wall), zone), offsetMinutes(new Date(wall + 86_400_000), zone)]);
  const matches = [...offsets].map((o) => wall - o * 60_000).filter((t) => t + offsetMinutes(new Date(t), zone) * 60_000 === wall);
  const unique = [...new Set(matches)].sort((a, b) => a - b);
  if (unique.length === 0) return { ok: false, message: `${text} does not exist in ${zone}: the clocks skip that hour (daylight saving time begins); pick a time outside it` };
  if (unique.length > 1) {
    return { ok: false, message: `${text} happens twice in ${zone} (daylight saving time ends); add the offset, e.g. ${formatInZone(new Date(unique[0]!), zone).iso} or ${formatInZone(new Date(unique[1]!), zone).iso}` };
  }
  return { ok: true, instant: new Date(unique[0]!) };
}

/** An instant as the zone's wall clock, with its offset: `2027-03-28T23:59:00+02:00`. */
export function formatInZone(instant: Date, zone: string): { iso: string } {
  const offset = offsetMinutes(instant, zone);
  const local = new Date(Math.floor(instant.getTime() / 1000) * 1000 + offset * 60_000).toISOString().slice(0, 19);
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return { iso: `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}` };
}

/** `2027-03-28T23:59:00+02:00 Europe/Zurich`, or null. */
export function showInZone(instant: Date | string | null, zone: string): string | null {
  if (instant === null) return null;
  return `${formatInZone(typeof instant === 'string' ? new Date(instant) : instant, zone).iso} ${zone}`;
}
