/* sim_procaddr_tsv: the sim answers every cuGetProcAddress_v2 request the real CUDA 13.0
 * runtime makes (test/data/cudart13-getprocaddress.tsv) as the real driver would.
 *
 * The real driver (version 13000) knows every name the runtime asks for except the empty one
 * of the first row, so: row 1 → CUDA_SUCCESS, NULL, SYMBOL_NOT_FOUND; every other row →
 * CUDA_SUCCESS, SUCCESS and the sim's own definition of the exported name the generated table
 * assigns to (symbol, cudaVersion, flags). The table's expected name is computed here with a
 * plain linear scan, not the sim's lookup; sim_procaddr_spot checks the table by hand.
 * Requests are made from 4 threads at once first, so the sim's one-time setup races.
 */
#include "procaddr_test.h"

#include <pthread.h>

#include "procaddr_table.h"

#ifndef HMT_PROCADDR_TSV
#error "HMT_PROCADDR_TSV must name test/data/cudart13-getprocaddress.tsv"
#endif

struct row { char sym[128]; int ver; unsigned flags; };

static struct row rows[1024];
static int nrows;

static int load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (nrows == (int)(sizeof rows / sizeof *rows)) {
            fclose(f);
            return -1;
        }
        struct row *r = &rows[nrows];
        char *tab = strchr(line, '\t');
        if (!tab || (size_t)(tab - line) >= sizeof r->sym ||
            sscanf(tab + 1, "%d\t%u", &r->ver, &r->flags) != 2) {
            fprintf(stderr, "%s: bad row: %s", path, line);
            fclose(f);
            return -1;
        }
        memcpy(r->sym, line, (size_t)(tab - line));
        r->sym[tab - line] = 0;
        nrows++;
    }
    fclose(f);
    return 0;
}

/* Expected export by a linear scan of the table: newest legacy row at or before ver; with
 * the per-thread flag, the per-thread row named after it, if also at or before ver. */
static const char *expected(const char *sym, int ver, unsigned flags)
{
    const struct hmt_sim_pa_entry *best = NULL;
    for (int i = 0; i < HMT_SIM_PA_TABLE_LEN; i++) {
        const struct hmt_sim_pa_entry *e = &hmt_sim_pa_table[i];
        if (strcmp(e->base, sym) == 0 && e->version <= ver &&
            (e->variant == HMT_SIM_PA_NONE || e->variant == HMT_SIM_PA_LEGACY) &&
            (!best || e->version > best->version))
            best = e;
    }
    if (!best || !(flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM))
        return best ? best->exported : NULL;
    for (int i = 0; i < HMT_SIM_PA_TABLE_LEN; i++) {
        const struct hmt_sim_pa_entry *e = &hmt_sim_pa_table[i];
        char ptds[160], ptsz[160];
        snprintf(ptds, sizeof ptds, "%s_ptds", best->exported);
        snprintf(ptsz, sizeof ptsz, "%s_ptsz", best->exported);
        if (strcmp(e->base, sym) == 0 && e->version <= ver &&
            (strcmp(e->exported, ptds) == 0 || strcmp(e->exported, ptsz) == 0))
            return e->exported;
    }
    return best->exported;
}

static void *answers[4][1024];

static void *walk(void *arg)
{
    void **out = arg;
    for (int i = 0; i < nrows; i++) {
        CUdriverProcAddressQueryResult st;
        if (cuGetProcAddress_v2(rows[i].sym, &out[i], rows[i].ver, rows[i].flags, &st) != CUDA_SUCCESS)
            out[i] = (void *)-1;
    }
    return NULL;
}

int main(void)
{
    if (load(HMT_PROCADDR_TSV) != 0)
        return 1;
    PT_CHECK(nrows == 440, "%d rows, the recorded log has 440", nrows);
    PT_CHECK(rows[0].sym[0] == 0, "first row is not the empty name");

    pthread_t t[4];
    for (int k = 0; k < 4; k++)
        PT_CHECK(pthread_create(&t[k], NULL, walk, answers[k]) == 0, "pthread_create");
    for (int k = 0; k < 4; k++)
        pthread_join(t[k], NULL);

    int found = 0, per_thread = 0;
    for (int i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        const char *want = i == 0 ? NULL : expected(r->sym, r->ver, r->flags);
        PT_CHECK(i == 0 || want, "row %d (%s, %d, %u): not in the table", i + 1, r->sym, r->ver,
                 r->flags);
        pt_expect(r->sym, r->ver, r->flags, want,
                  want ? CU_GET_PROC_ADDRESS_SUCCESS : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
        void *exp = want ? pt_sim_sym(want) : NULL;
        for (int k = 0; k < 4; k++)
            PT_CHECK(answers[k][i] == exp, "row %d (%s): thread %d got %p, want %p", i + 1, r->sym,
                     k, answers[k][i], exp);
        if (want) {
            found++;
            per_thread += strstr(want, "_ptds") || strstr(want, "_ptsz");
        }
    }
    PT_CHECK(found == nrows - 1, "%d of %d rows resolved", found, nrows - 1);
    if (pt_failures) {
        fprintf(stderr, "sim_procaddr_tsv: %d failure(s)\n", pt_failures);
        return 1;
    }
    printf("sim_procaddr_tsv: %d rows, %d resolved (%d per-thread variants), row 1 not found\n",
           nrows, found, per_thread);
    return 0;
}
