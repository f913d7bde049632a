
// Tree reductions across one workgroup, appended by the launcher to the kernels that need them
// (WGSL has no includes). The kernel declares `const THREADS: u32`, a power of two equal to its
// workgroup size; every thread of the workgroup must call, since each step waits at a barrier.

var<workgroup> partial: array<f32, THREADS>;

fn reduce_sum(lane: u32, value: f32) -> f32 {
    partial[lane] = value;
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if (lane < stride) {
            partial[lane] += partial[lane + stride];
        }
        workgroupBarrier();
    }
    let result = partial[0];
    // Nobody may overwrite `partial` for the next reduction before everyone has read the result.
    workgroupBarrier();
    return result;
}

fn reduce_max(lane: u32, value: f32) -> f32 {
    partial[lane] = value;
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if (lane < stride) {
            partial[lane] = max(partial[lane], partial[lane + stride]);
        }
        workgroupBarrier();
    }
    let result = partial[0];
    workgroupBarrier();
    return result;
}
