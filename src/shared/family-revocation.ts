// Revoking a refresh token's whole family (reuse, revocation, a leak report) while
// rotations of its members may be committing. On PostgreSQL (READ COMMITTED) the UPDATE
// that revokes the family sees the rows committed when it started; a rotation that
// committed meanwhile (it had locked the parent first, so the UPDATE waited for it and
// then revoked the parent) inserted a successor that snapshot does not hold, and that
// successor would stay live. So the UPDATE is repeated until a pass revokes nothing: each
// pass sees what committed before it, and a rotation cannot start from a revoked parent,
// so the second pass finds nothing in practice. SQLite runs one writer at a time; there
// the second pass only confirms it. Used by the token stores and by the leak handler
// (src/domain/leaked-credentials.ts), whatever runs their statements.

/** At most this many passes (a family being rotated faster than it is revoked is not a thing to wait out). */
export const MAX_REVOCATION_PASSES = 10;

/** Runs `pass` (one UPDATE of the family's live rows; resolves to how many it changed) until one changes nothing; the total. */
export async function revokeUntilNoneLive(pass: () => Promise<number>): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_REVOCATION_PASSES; i++) {
    const changed = await pass();
    if (changed === 0) break;
    total += changed;
  }
  return total;
}
