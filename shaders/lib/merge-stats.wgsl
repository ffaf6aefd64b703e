// The merge kernels' first pass over a row's per-chunk stats ([row, chunk, (m, l)] in `stats`,
// which each kernel declares): the largest chunk max, and the row's NaN if a chunk's sum is one
// (a NaN in the query row makes its chunk sums NaN: it must reach this row's output).
struct RowStats {
  m: f32,
  nan_seen: bool,
  nan: f32,
}

fn row_stats(first: u32, splits: u32) -> RowStats {
  var r = RowStats(HIDDEN, false, 0.0);
  for (var s = 0u; s < splits; s++) {
    r.m = max(r.m, stats[(first + s) * 2u]);
    let l = stats[(first + s) * 2u + 1u];
    if (is_nan(l)) {
      r.nan_seen = true;
      r.nan = l;
    }
  }
  return r;
}
