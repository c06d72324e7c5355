/* sim_ptx_fuzz: the PTX .entry reader (parameter layouts for PTX modules) survives
 * deterministic mutations of a valid PTX file — byte flips, truncations, deleted and
 * duplicated spans — without crashing or reading out of bounds (run it under ASan), and
 * every layout it accepts is ordered, non-overlapping and within the 32,764-byte limit.
 * A libFuzzer harness is unnecessary here: this replays a fixed-seed corpus in CI. */
#include "sim_test.h"

#include <unistd.h>

static const char base_ptx[] =
    "//\n.version 8.0\n.target sm_90\n.address_size 64\n\n"
    ".visible .entry fill_u32(\n\t.param .u64 fill_u32_param_0,\n\t.param .u32 fill_u32_param_1,\n"
    "\t.param .u64 fill_u32_param_2\n)\n{\n\tret;\n}\n"
    ".visible .entry noop(\n\t.param .u32 noop_param_0,\n\t.param .align 16 .b8 noop_param_1[20],\n"
    "\t.param .u64 .ptr .global .align 8 noop_param_2\n)\n{\n\tret;\n}\n";

static uint32_t rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

int main(void)
{
    sim_test_ctx();
    char dir[] = "/tmp/hmt-sim-ptxfuzzXXXXXX";
    CHECK(mkdtemp(dir));
    char so[256], ptx[256];
    snprintf(so, sizeof so, "%s/k.so", dir);
    snprintf(ptx, sizeof ptx, "%s/k.ptx", dir);
    CHECK(symlink(SIM_TEST_KERNELS, so) == 0);
    uint32_t seed = 12345;
    char buf[2 * sizeof base_ptx];
    const char *names[] = {"fill_u32", "noop", "add_u32"};
    for (int it = 0; it < 400; it++) {
        size_t n = sizeof base_ptx - 1;
        memcpy(buf, base_ptx, n);
        int muts = 1 + (int)(rng(&seed) % 4);
        for (int k = 0; k < muts && n > 0; k++) {
            size_t at = rng(&seed) % n;
            switch (rng(&seed) % 4) {
            case 0: buf[at] = (char)(rng(&seed) & 0xff); break;               /* flip */
            case 1: n = at + 1; break;                                        /* truncate */
            case 2: {                                                         /* delete */
                size_t len = rng(&seed) % 16;
                if (at + len > n) len = n - at;
                memmove(buf + at, buf + at + len, n - at - len);
                n -= len;
                break;
            }
            default: {                                                        /* duplicate */
                size_t len = rng(&seed) % 32;
                if (at + len > n) len = n - at;
                if (n + len < sizeof buf) {
                    memmove(buf + at + len, buf + at, n - at);
                    n += len;
                }
                break;
            }
            }
        }
        FILE *f = fopen(ptx, "wb");
        CHECK(f);
        CHECK(fwrite(buf, 1, n, f) == n);
        fclose(f);
        CUmodule m;
        CUresult r = cuModuleLoad(&m, ptx);
        if (r != CUDA_SUCCESS) FAIL("iteration %d: cuModuleLoad returned %d", it, (int)r);
        for (size_t j = 0; j < sizeof names / sizeof names[0]; j++) {
            CUfunction fn;
            CK(cuModuleGetFunction(&fn, m, names[j]));
            size_t end = 0, off, sz;
            for (size_t i = 0; cuFuncGetParamInfo(fn, i, &off, &sz) == CUDA_SUCCESS; i++) {
                if (off < end || off + sz > 32764) FAIL("iteration %d: %s param %zu at %zu+%zu", it, names[j], i, off, sz);
                end = off + sz;
            }
        }
        CK(cuModuleUnload(m));
    }
    unlink(so);
    unlink(ptx);
    rmdir(dir);
    return 0;
}
