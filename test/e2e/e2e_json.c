/* e2e_json.c — the e2e tests' JSON helper (cJSON), so the shell tests need no jq.
 *   e2e_json get FILE KEY     print KEY's number from a JSON object (top level, or one level
 *                             down); exit 1 if absent
 *   e2e_json bench FILE       check that an `hmt bench --json` file parses and its numbers
 *                             add up: per configuration, tokens = len(latencies_ms), mean,
 *                             median, p95, p99 and tokens/s recomputed from the raw latencies,
 *                             overhead and throughput change recomputed from the baseline;
 *                             exit 0 if all agree (relative 1e-9), 1 naming the first that
 *                             does not
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "e2e_json: cannot open %s\n", path);
        exit(1);
    }
    static char buf[1 << 24];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *j = cJSON_Parse(buf);
    if (!j) {
        fprintf(stderr, "e2e_json: %s does not parse as JSON\n", path);
        exit(1);
    }
    return j;
}

static const cJSON *find(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v)
        return v;
    const cJSON *c;
    cJSON_ArrayForEach(c, o) {
        if (cJSON_IsObject(c) && (v = cJSON_GetObjectItemCaseSensitive(c, key)))
            return v;
    }
    return NULL;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double q)
{
    double r = q * (double)(n - 1);
    size_t i = (size_t)r;
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (r - (double)i) * (v[i + 1] - v[i]);
}

static int close_to(const char *cfg, const char *what, double got, double want)
{
    if (fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want)))
        return 1;
    fprintf(stderr, "e2e_json: %s: %s is %.17g, recomputed %.17g\n", cfg, what, got, want);
    return 0;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int check_bench(const char *path)
{
    cJSON *j = load(path);
    const cJSON *cfgs = cJSON_GetObjectItemCaseSensitive(j, "configurations");
    if (!cJSON_IsArray(cfgs) || cJSON_GetArraySize(cfgs) < 2) {
        fprintf(stderr, "e2e_json: %s: no configurations array of at least 2\n", path);
        cJSON_Delete(j);
        return 1;
    }
    double base_mean = NAN, base_tps = NAN;
    int idx = 0, ok = 1;
    const cJSON *c;
    cJSON_ArrayForEach(c, cfgs) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
        const char *name = cJSON_IsString(nm) ? nm->valuestring : "?";
        const cJSON *lat = cJSON_GetObjectItemCaseSensitive(c, "latencies_ms");
        size_t n = (size_t)cJSON_GetArraySize(lat);
        if (!cJSON_IsArray(lat) || n == 0) {
            fprintf(stderr, "e2e_json: %s: no latencies_ms\n", name);
            cJSON_Delete(j);
            return 1;
        }
        double *v = malloc(n * sizeof(double)), sum = 0;
        size_t k = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, lat) {
            v[k] = x->valuedouble;
            sum += v[k++];
        }
        qsort(v, n, sizeof(double), cmpd);
        double mean = sum / (double)n, tps = (double)n / (sum / 1e3);
        ok &= close_to(name, "tokens", num(c, "tokens"), (double)n);
        ok &= close_to(name, "mean_ms", num(c, "mean_ms"), mean);
        ok &= close_to(name, "median_ms", num(c, "median_ms"), pct(v, n, 0.5));
        ok &= close_to(name, "p95_ms", num(c, "p95_ms"), pct(v, n, 0.95));
        ok &= close_to(name, "p99_ms", num(c, "p99_ms"), pct(v, n, 0.99));
        ok &= close_to(name, "tokens_per_s", num(c, "tokens_per_s"), tps);
        if (!(v[0] <= num(c, "median_ms") && num(c, "median_ms") <= num(c, "p95_ms") &&
              num(c, "p95_ms") <= num(c, "p99_ms") && num(c, "p99_ms") <= v[n - 1])) {
            fprintf(stderr, "e2e_json: %s: min <= median <= p95 <= p99 <= max fails\n", name);
            ok = 0;
        }
        if (idx == 0) {
            base_mean = mean;
            base_tps = tps;
        } else {
            ok &= close_to(name, "latency_overhead_pct", num(c, "latency_overhead_pct"),
                           (mean / base_mean - 1) * 100);
            ok &= close_to(name, "throughput_change_pct", num(c, "throughput_change_pct"),
                           (tps / base_tps - 1) * 100);
        }
        free(v);
        idx++;
    }
    cJSON_Delete(j);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "get")) {
        cJSON *j = load(argv[2]);
        const cJSON *v = find(j, argv[3]);
        int rc = 0;
        if (cJSON_IsNumber(v))
            printf("%.17g\n", v->valuedouble);
        else if (cJSON_IsBool(v))
            printf("%d\n", cJSON_IsTrue(v));
        else
            rc = 1;
        cJSON_Delete(j);
        return rc;
    }
    if (argc == 3 && !strcmp(argv[1], "bench"))
        return check_bench(argv[2]);
    fprintf(stderr, "usage: e2e_json get FILE KEY | e2e_json bench FILE\n");
    return 2;
}
