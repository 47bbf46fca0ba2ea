/** Where "now" comes from: tests pass a controllable clock; time rules never read Date directly. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export function addMs(date: Date, ms: number): Date {
  return new Date(date.getTime() + ms);
}
