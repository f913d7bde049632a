// Where rollout's discard ratio cuts one fused map: the `to_discard` smallest entries, ordered by
// (value, index) as a stable sort orders them, are exactly those at or below the returned
// (value, index). Found without sorting by two binary searches, each step counting entries
// across the workgroup: first the smallest value v with #(x ≤ v) ≥ to_discard, then, among the
// entries equal to v, the index that completes the count. Fused attention is non-negative, so
// its f32 bit patterns order as the values do and the search runs over u32 keys.
// Dispatch: one workgroup of 256 threads (the map is at most a few hundred thousand entries).

struct Params {
    count: u32,
    // how many entries to discard, 1 ≤ to_discard ≤ count
    to_discard: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (count) f32 values read as their bit patterns
@group(0) @binding(1) var<storage, read> keys: array<u32>;
// (2): the cut's key, then its index
@group(0) @binding(2) var<storage, read_write> cut: array<u32>;

// The workgroup size; reduce_sum comes from workgroup_reduce.wgsl, appended by the launcher.
const THREADS: u32 = 256u;
// Binary search steps that pin down any u32.
const STEPS: u32 = 32u;

// #(entries with key ≤ limit), or with key == limit and index ≤ index_limit when `ties_only`.
// Counts stay below 2^24, so the f32 reduction is exact.
fn tally(lane: u32, limit: u32, ties_only: bool, index_limit: u32) -> u32 {
    var mine = 0.0;
    for (var i = lane; i < p.count; i += THREADS) {
        let key = keys[i];
        let counted = select(key <= limit, key == limit && i <= index_limit, ties_only);
        mine += select(0.0, 1.0, counted);
    }
    return u32(reduce_sum(lane, mine));
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lane: u32) {
    var low = 0u;
    var high = 0xffffffffu;
    for (var step = 0u; step < STEPS; step++) {
        let middle = low + (high - low) / 2u;
        if (tally(lane, middle, false, 0u) >= p.to_discard) {
            high = middle;
        } else {
            low = middle + 1u;
        }
    }
    let value = low;
    // Every thread must reach each tally's barriers, so the count below value 0 is taken and
    // then ignored rather than skipped.
    let below = select(0u, tally(lane, value - 1u, false, 0u), value > 0u);
    let ties_needed = p.to_discard - below;
    low = 0u;
    high = p.count - 1u;
    for (var step = 0u; step < STEPS; step++) {
        let middle = low + (high - low) / 2u;
        if (tally(lane, value, true, middle) >= ties_needed) {
            high = middle;
        } else {
            low = middle + 1u;
        }
    }
    if (lane == 0u) {
        cut[0] = value;
        cut[1] = low;
    }
}
