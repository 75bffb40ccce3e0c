/** Dates as the portal's inputs give them (local time, as the person reads their clock). */

/** A `datetime-local` input's value as an instant; null when empty or malformed. */
export function fromLocalInput(value: string): Date | null {
  if (!value) {
    return null;
  }
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** An instant as a `datetime-local` input's value (minutes). */
export function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** A local calendar day (`yyyy-mm-dd`) as the instant it starts, `days` later. */
export function dayStart(day: string, days = 0): Date | null {
  const [year, month, date] = day.split("-").map(Number);
  if (!year || !month || !date) {
    return null;
  }
  return new Date(year, month - 1, date + days);
}
