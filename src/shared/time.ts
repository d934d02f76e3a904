// Time comes from an injectable clock: tests move it instead of sleeping.
export type Clock = () => Date;

export function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * 1000);
}
