export interface TraceNode {
  id: string;
  causationId: string | null;
  occurredAt: string;
}

function earlier(a: TraceNode, b: TraceNode): boolean {
  const ta = Date.parse(a.occurredAt);
  const tb = Date.parse(b.occurredAt);
  if (ta !== tb) return ta < tb;
  return a.id < b.id;
}

/**
 * Orders the events of one flow: by occurredAt, except that an event never comes before the
 * event that caused it (producers' clocks may disagree, and a cause and its effect may share a
 * millisecond). A topological order of the causation tree that always takes the earliest event
 * whose cause is already placed (Kahn's algorithm with occurredAt as the priority).
 */
export function orderTrace<T extends TraceNode>(events: readonly T[]): T[] {
  const ids = new Set(events.map((e) => e.id));
  const placed = new Set<string>();
  const waiting = [...events];
  const ordered: T[] = [];
  while (waiting.length > 0) {
    let best = -1;
    for (let i = 0; i < waiting.length; i++) {
      const e = waiting[i];
      // a cause outside this trace (or itself) does not hold the event back
      const ready = e.causationId === null || e.causationId === e.id || !ids.has(e.causationId) || placed.has(e.causationId);
      if (ready && (best === -1 || earlier(e, waiting[best]))) best = i;
    }
    if (best === -1) {
      // a causation cycle (impossible for honest producers): fall back to time order for the rest
      waiting.sort((a, b) => (earlier(a, b) ? -1 : 1));
      ordered.push(...waiting);
      break;
    }
    const [next] = waiting.splice(best, 1);
    placed.add(next.id);
    ordered.push(next);
  }
  return ordered;
}
