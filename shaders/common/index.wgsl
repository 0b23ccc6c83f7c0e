// Shared dispatch geometry: kernels run WG_SIZE invocations per workgroup on a 2-D grid of
// workgroups (x fastest) so that more than 65535 workgroups can be addressed.
const WG_SIZE: u32 = 64u;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG_SIZE;
}
