/** A clock the test sets and moves by hand: time rules are tested without sleeping. */
export function manualClock(start = new Date()) {
  let now = start.getTime();
  const clock = () => new Date(now);
  return Object.assign(clock, {
    set(date: Date) {
      now = date.getTime();
    },
    advance(ms: number) {
      now += ms;
    },
  });
}

export type ManualClock = ReturnType<typeof manualClock>;
