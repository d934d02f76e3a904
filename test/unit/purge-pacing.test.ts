// The purge's pacing (src/domain/purge.ts, inBatches) on a clock of the test's own: each
// batch is sized towards PURGE_BATCH_TARGET_MS of deleting (never more than halved or
// doubled at once, never above the maximum), and after each the purge pauses as long as
// the batch took, so the write lock is free at least half the time.
import t from "tap";
import { inBatches, PURGE_BATCH_TARGET_MS, type Pacing } from "../../src/domain/purge.js";

/** `rows` expired rows; deleting one costs `costMs` on the fake clock. */
function scenario(rows: number, costMs: (batch: number) => number) {
  let now = 0;
  let left = rows;
  const batches: number[] = [];
  const pauses: number[] = [];
  const took: number[] = [];
  const pacing: Pacing = {
    now: () => now,
    sleep: async (ms) => {
      pauses.push(ms);
      now += ms;
    },
  };
  const findIds = async (take: number) => Array.from({ length: Math.min(take, left) }, (_, i) => ({ id: String(i) }));
  const remove = async (ids: string[]) => {
    batches.push(ids.length);
    const ms = ids.length * costMs(batches.length);
    took.push(ms);
    now += ms;
    left -= ids.length;
    return ids.length;
  };
  return { run: (max: number) => inBatches(max, findIds, remove, pacing), batches, pauses, took };
}

t.test("slow rows: batches shrink by halves to the target and stay there", async (t) => {
  const s = scenario(2000, () => 1); // 1 ms a row: the first batch of 50 holds the lock 50 ms
  t.equal(await s.run(500), 2000, "every row removed");
  t.strictSame(s.batches.slice(0, 4), [50, 25, 12, 10], "halved at most, then the ~10 ms size");
  t.ok(
    s.took.slice(3, -1).every((ms) => ms === PURGE_BATCH_TARGET_MS),
    "every later full batch takes the target",
  );
  t.strictSame(s.pauses, s.took.slice(0, -1), "after each full batch, a pause as long as it took (none after the last)");
});

t.test("fast rows: batches grow by doubling, capped by the maximum", async (t) => {
  const s = scenario(5000, () => 0.01); // 10 µs a row: 1,000 rows fit in 10 ms
  t.equal(await s.run(400), 5000);
  t.strictSame(s.batches.slice(0, 5), [50, 100, 200, 400, 400], "doubled, never above max");
});

t.test("rows that get slower mid-way (a cold part of the index): the size follows", async (t) => {
  const s = scenario(3000, (batch) => (batch <= 3 ? 0.01 : 0.5));
  await s.run(500);
  const [first, second, third, fourth, fifth, sixth] = s.batches;
  t.strictSame([first, second, third], [50, 100, 200], "growing while fast");
  t.equal(fourth, 400, "doubled once more on what it knew");
  t.strictSame([fifth, sixth], [200, 100], "then halved after each slow batch, towards 20 rows (10 ms)");
  t.ok(s.batches.at(-2)! <= 20 + 1, "and settled near the target size");
});

t.test("fewer rows than a batch: one batch, no pause", async (t) => {
  const s = scenario(7, () => 1);
  t.equal(await s.run(500), 7);
  t.strictSame(s.batches, [7]);
  t.strictSame(s.pauses, []);
});
