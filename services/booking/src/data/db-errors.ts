/** Postgres errors that mean a business conflict rather than a fault. */
interface PgError {
  code?: string;
  constraint?: string;
}

export function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as PgError;
  return e?.code === '23505' && e.constraint === constraint;
}

export function isExclusionViolation(err: unknown, constraint: string): boolean {
  const e = err as PgError;
  return e?.code === '23P01' && e.constraint === constraint;
}
