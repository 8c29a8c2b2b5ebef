import { parseSize } from '../../src/domain/assignments';
import { parseStrategies } from '../../src/domain/distribution';
import { formatInZone, isTimeZone, parseZonedTime } from '../../src/domain/zoned-time';

const instant = (text: string, zone = 'Europe/Zurich') => {
  const r = parseZonedTime(text, zone);
  if (!r.ok) throw new Error(r.message);
  return r.instant.toISOString();
};
const refusal = (text: string, zone = 'Europe/Zurich') => {
  const r = parseZonedTime(text, zone);
  if (r.ok) throw new Error(`accepted ${text}`);
  return r.message;
};

describe('wall-clock times in a time zone', () => {
  it('turns a local time into the instant of that zone, winter and summer', () => {
    expect(instant('2027-01-31T23:59')).toBe('2027-01-31T22:59:00.000Z');
    expect(instant('2027-06-30T12:00:30')).toBe('2027-06-30T10:00:30.000Z');
    expect(instant('2027-11-07T09:00', 'America/New_York')).toBe('2027-11-07T14:00:00.000Z');
  });

  it('is right on the days the clocks change', () => {
    expect(instant('2027-03-28T01:59:59')).toBe('2027-03-28T00:59:59.000Z'); // last second of CET
    expect(instant('2027-03-28T03:00')).toBe('2027-03-28T01:00:00.000Z'); // first minute of CEST
    expect(instant('2027-03-28T23:59')).toBe('2027-03-28T21:59:00.000Z');
    expect(instant('2027-10-31T03:30')).toBe('2027-10-31T02:30:00.000Z');
  });

  it('refuses a time the clocks skip, and asks for the offset of a time they repeat', () => {
    expect(refusal('2027-03-28T02:30')).toMatch(/does not exist in Europe\/Zurich/);
    expect(refusal('2027-10-31T02:30')).toMatch(/happens twice .* 2027-10-31T02:30:00\+02:00 or 2027-10-31T02:30:00\+01:00/);
    expect(instant('2027-10-31T02:30:00+01:00')).toBe('2027-10-31T01:30:00.000Z');
  });

  it('refuses what is not a date and time', () => {
    expect(refusal('2027-02-30T10:00')).toMatch(/not a valid date and time/);
    expect(refusal('next friday')).toMatch(/is not a time/);
    expect(refusal('2027-01-01T24:00')).toMatch(/not a valid date and time/);
  });

  it('shows an instant in the zone with its offset, and knows real zones from invented ones', () => {
    expect(formatInZone(new Date('2027-03-28T21:59:00Z'), 'Europe/Zurich').iso).toBe('2027-03-28T23:59:00+02:00');
    expect(formatInZone(new Date('2027-01-01T00:00:00Z'), 'Asia/Kolkata').iso).toBe('2027-01-01T05:30:00+05:30');
    expect(isTimeZone('Europe/Zurich')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});

describe('--strategy and --size-limit', () => {
  it('reads a strategy per kind, overwrite for the rest', () => {
    expect(parseStrategies('files=mirror,apps=skip')).toEqual({ files: 'mirror', tables: 'overwrite', apps: 'skip' });
    expect(parseStrategies('')).toEqual({ files: 'overwrite', tables: 'overwrite', apps: 'overwrite' });
  });

  it('names what is wrong with a strategy', () => {
    expect(() => parseStrategies('files=replace')).toThrow(/unknown strategy "replace" for files/);
    expect(() => parseStrategies('notebooks=skip')).toThrow(/unknown kind "notebooks"/);
    expect(() => parseStrategies('files=skip,files=mirror')).toThrow(/names "files" twice/);
    expect(() => parseStrategies('files')).toThrow(/not KIND=STRATEGY/);
  });

  it('reads sizes in SI and binary units', () => {
    expect(parseSize('50MB')).toBe(50_000_000);
    expect(parseSize('1.5 GB')).toBe(1_500_000_000);
    expect(parseSize('200KiB')).toBe(204_800);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('0')).toBeNull();
    expect(parseSize('50 parsecs')).toBeNull();
  });
});
