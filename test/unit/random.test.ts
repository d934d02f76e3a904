// The pooled CSPRNG bytes behind ids and credentials (src/shared/random.ts).
import t from "tap";
import { randomBytesPooled } from "../../src/shared/random.js";

t.test("each call gets fresh bytes of the length asked, across many refills of the pool", async (t) => {
  const seen = new Set<string>();
  const counts = new Array<number>(256).fill(0);
  let total = 0;
  // 7 does not divide the pool's size: calls straddle its refills.
  for (const length of [7, 16, 32]) {
    for (let i = 0; i < 3000; i++) {
      const bytes = randomBytesPooled(length);
      t.equal(bytes.length, length);
      seen.add(bytes.toString("hex"));
      for (const byte of bytes) counts[byte]!++;
      total += length;
    }
  }
  t.equal(seen.size, 9000, "no value handed out twice");
  // Uniform bytes: each value ~total/256 times (a chi-square test at 255 degrees of freedom:
  // above 400 happens with probability ~1e-8; bytes wiped to zero, or repeated, are far above it).
  const expected = total / 256;
  const chiSquare = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
  t.ok(chiSquare < 400, `byte values uniform (chi-square ${chiSquare.toFixed(0)})`);
});

t.test("more than the pool holds comes straight from the CSPRNG", async (t) => {
  const large = randomBytesPooled(10_000);
  t.equal(large.length, 10_000);
  t.not(large.subarray(0, 5000).toString("hex"), large.subarray(5000).toString("hex"));
  t.ok(large.some((byte) => byte !== 0));
});
