/* sim_stats_json: with HMT_SIM_STATS=PATH the sim writes a JSON object at exit with
 * device_bytes, peak_device_bytes, illegal_address and per-exported-name call counts.
 * The workload runs in a child process so the parent can read what its exit wrote. */
#include "sim_test.h"

#include <cjson/cJSON.h>
#include <sys/wait.h>
#include <unistd.h>

static int child(void)
{
    sim_test_ctx();
    CUdeviceptr a, b;
    CK(cuMemAlloc(&a, 3 << 20));
    CK(cuMemAlloc(&b, 1 << 20));
    CK(cuMemFree(b));
    uint32_t x = 1;
    for (int i = 0; i < 3; i++) CK(cuMemcpyHtoD(a, &x, 4));
    return 0; /* a stays allocated: device_bytes at exit is 3 MiB */
}

int main(void)
{
    char path[] = "/tmp/hmt-sim-statsXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    pid_t p = fork();
    if (p == 0) {
        setenv("HMT_SIM_STATS", path, 1);
        exit(child());
    }
    int st;
    waitpid(p, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    FILE *f = fopen(path, "r");
    CHECK(f);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    unlink(path);
    buf[n] = 0;
    cJSON *o = cJSON_Parse(buf);
    if (!o) FAIL("stats file is not JSON: %s", buf);
    cJSON *db = cJSON_GetObjectItem(o, "device_bytes"), *pk = cJSON_GetObjectItem(o, "peak_device_bytes"),
          *ia = cJSON_GetObjectItem(o, "illegal_address"), *calls = cJSON_GetObjectItem(o, "calls");
    CHECK(cJSON_IsNumber(db) && db->valuedouble == (double)(3 << 20));
    CHECK(cJSON_IsNumber(pk) && pk->valuedouble == (double)(4 << 20));
    CHECK(cJSON_IsFalse(ia));
    CHECK(cJSON_GetObjectItem(o, "first_illegal_address") == NULL);
    CHECK(cJSON_IsObject(calls));
    cJSON *c = cJSON_GetObjectItem(calls, "cuMemAlloc_v2");
    CHECK(cJSON_IsNumber(c) && c->valuedouble == 2);
    c = cJSON_GetObjectItem(calls, "cuMemcpyHtoD_v2");
    CHECK(cJSON_IsNumber(c) && c->valuedouble == 3);
    c = cJSON_GetObjectItem(calls, "cuInit");
    CHECK(cJSON_IsNumber(c) && c->valuedouble == 1);
    cJSON *cp = cJSON_GetObjectItem(o, "copied_bytes");
    c = cJSON_GetObjectItem(cp, "HtoD");
    CHECK(cJSON_IsNumber(c) && c->valuedouble == 12);
    c = cJSON_GetObjectItem(o, "kernels_run");
    CHECK(cJSON_IsNumber(c) && c->valuedouble == 0);
    cJSON_Delete(o);

    /* And on demand, to a path given by the caller. */
    int (*write_stats)(const char *) = (int (*)(const char *))sim_test_hook("hmt_sim_write_stats");
    CHECK(write_stats("/nonexistent-dir/x.json") < 0);
    return 0;
}
