// Cursor pagination over UUIDv7 ids (creation order). The cursor is the id of the
// last item of the previous page; it stays valid when rows are added or deleted.
export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** Oldest first (lists of things), or newest first (logs: events, deliveries). */
export function pageArgs(page: PageRequest, order: "asc" | "desc" = "asc") {
  return {
    orderBy: { id: order },
    take: page.limit + 1,
    ...(page.cursor ? { where: { id: order === "asc" ? { gt: page.cursor } : { lt: page.cursor } } } : {}),
  };
}

/** `rows` was fetched with pageArgs (one extra row tells whether a next page exists). */
export function toPage<T extends { id: string }>(rows: T[], page: PageRequest): Page<T> {
  const items = rows.slice(0, page.limit);
  return { items, nextCursor: rows.length > page.limit ? items[items.length - 1]!.id : null };
}
