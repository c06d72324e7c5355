/* sim/module.c — modules, libraries, functions and kernel launches.
 *
 * A module is a host shared object exporting `hmt_sim_kernels` (hmt_sim.h): loaded by
 * path (cuModuleLoad, cuLibraryLoadFromFile), from its bytes (cuModuleLoadData*,
 * cuLibraryLoadData: an ELF image is written to a memfd and dlopen'd from /proc/self/fd),
 * or, for a PTX file passed by path, from the .so of the same basename beside it.
 * A CUlibrary is the same object as a CUmodule and a CUkernel the same as a CUfunction,
 * so a CUkernel can be cast to CUfunction as the driver allows.
 * Launch parameters are packed into one owned buffer using the table's layout (from
 * kernelParams, or copied from an `extra` buffer), so the kernel sees a snapshot taken at
 * launch time exactly as a GPU does.
 */
#include "internal.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIM_MAGIC_MOD 0x4d4f44554cu
typedef struct sim_module {
    uint64_t magic;
    void *dl;
    const hmt_sim_kernel_desc *table;
    unsigned nfuncs;
    sim_func *funcs;
    struct sim_module *next;   /* every module ever loaded (g_modules) */
} sim_module;

/* Modules are never freed, even when unloaded, so stale CUfunction/CUkernel handles fail
 * cleanly with CUDA_ERROR_INVALID_HANDLE instead of touching freed memory. (ctx_mu) */
static sim_module *g_modules;

sim_func *sim_func_check(CUfunction f)
{
    sim_func *fn = (sim_func *)(void *)f;
    return fn && fn->magic == SIM_MAGIC_FUNC ? fn : NULL;
}

static sim_module *mod_check(void *m)
{
    sim_module *mod = m;
    return mod && mod->magic == SIM_MAGIC_MOD ? mod : NULL;
}

/* Parameter layout of `.entry name(...)` in PTX text: each parameter at the next multiple
 * of its alignment (.align N, else its type's size), size = type size x array count —
 * the layout the driver uses for kernelParams (PTX ISA, "Kernel Function Parameters").
 * Leaves f unchanged when the entry is not found or cannot be read. */
static void ptx_layout(const char *ptx, const char *name, sim_func *f)
{
    size_t nl = strlen(name);
    const char *p = ptx;
    while ((p = strstr(p, ".entry")) != NULL) {
        p += 6;
        while (*p == ' ' || *p == '\t') p++;
        if (strncmp(p, name, nl) == 0 && (p[nl] == '(' || p[nl] == ' ' || p[nl] == '\t' ||
                                           p[nl] == '\n' || p[nl] == '\r'))
            break;
    }
    if (!p) return;
    const char *open = strchr(p, '('), *close = open ? strchr(open, ')') : NULL;
    if (!open || !close) return;
    hmt_sim_param *v = calloc(64, sizeof *v);
    if (!v) return;
    unsigned n = 0;
    size_t off = 0;
    for (const char *q = open + 1; q < close && n < 64;) {
        const char *end = memchr(q, ',', (size_t)(close - q));
        if (!end) end = close;
        char buf[256];
        size_t len = (size_t)(end - q) < sizeof buf - 1 ? (size_t)(end - q) : sizeof buf - 1;
        memcpy(buf, q, len);
        buf[len] = 0;
        q = end + 1;
        if (!strstr(buf, ".param")) continue;
        size_t tsize = 0, align = 0, count = 1;
        static const struct { const char *t; size_t s; } types[] = {
            {".u64", 8}, {".s64", 8}, {".b64", 8}, {".f64", 8}, {".u32", 4}, {".s32", 4},
            {".b32", 4}, {".f32", 4}, {".u16", 2}, {".s16", 2}, {".b16", 2}, {".f16", 2},
            {".u8", 1},  {".s8", 1},  {".b8", 1}};
        for (size_t k = 0; k < sizeof types / sizeof types[0] && !tsize; k++) {
            const char *t = strstr(buf, types[k].t);
            if (t && (t[strlen(types[k].t)] == ' ' || t[strlen(types[k].t)] == '\t')) tsize = types[k].s;
        }
        const char *al = strstr(buf, ".align");
        if (al) align = strtoul(al + 6, NULL, 10);
        const char *br = strchr(buf, '[');
        if (br) count = strtoul(br + 1, NULL, 10);
        /* PTX limits: alignment a power of two up to 128 here, parameters at most
         * 32764 bytes in all (CUDA 12.1+). Anything else: keep the table's layout. */
        if (!tsize || !count || count > 32764 || align > 128 || (align & (align - 1))) {
            free(v);
            return;
        }
        if (!align) align = tsize;
        off = (off + align - 1) / align * align;
        if (off + tsize * count > 32764) {
            free(v);
            return;
        }
        v[n++] = (hmt_sim_param){(uint16_t)off, (uint16_t)(tsize * count)};
        off += tsize * count;
    }
    f->params = v; /* owned by the module, which is never freed */
    f->nparams = n;
}

static CUresult mod_from_dl(void *dl, const char *ptx, sim_module **out)
{
    const hmt_sim_kernel_desc *t = dlsym(dl, HMT_SIM_KERNEL_TABLE);
    if (!t) {
        dlclose(dl);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    sim_module *m = calloc(1, sizeof *m);
    unsigned n = 0;
    while (t[n].name) n++;
    sim_func *fs = calloc(n ? n : 1, sizeof *fs);
    if (!m || !fs) {
        free(m);
        free(fs);
        dlclose(dl);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    for (unsigned i = 0; i < n; i++) {
        fs[i].magic = SIM_MAGIC_FUNC;
        fs[i].mod = m;
        fs[i].desc = &t[i];
        fs[i].nparams = t[i].nparams;
        fs[i].params = t[i].params;
        if (ptx) ptx_layout(ptx, t[i].name, &fs[i]);
        size_t end = 0;
        for (unsigned p = 0; p < fs[i].nparams; p++)
            if ((size_t)fs[i].params[p].offset + fs[i].params[p].size > end)
                end = (size_t)fs[i].params[p].offset + fs[i].params[p].size;
        fs[i].param_bytes = end;
    }
    *m = (sim_module){.magic = SIM_MAGIC_MOD, .dl = dl, .table = t, .nfuncs = n, .funcs = fs};
    pthread_mutex_lock(&g_sim.ctx_mu);
    m->next = g_modules;
    g_modules = m;
    pthread_mutex_unlock(&g_sim.ctx_mu);
    *out = m;
    return CUDA_SUCCESS;
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *t = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&t, &n);
    if (mem) {
        char chunk[4096];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0) fwrite(chunk, 1, got, mem);
        fclose(mem);
    }
    fclose(fp);
    return t;
}

static CUresult load_path(const char *path, sim_module **out)
{
    if (!path) return CUDA_ERROR_INVALID_VALUE;
    FILE *fp = fopen(path, "rb");
    if (!fp) return CUDA_ERROR_FILE_NOT_FOUND;
    unsigned char head[4] = {0};
    size_t got = fread(head, 1, 4, fp);
    fclose(fp);
    char buf[4096];
    const char *so = path;
    char *ptx = NULL;
    if (got < 4 || memcmp(head, ELFMAG, SELFMAG) != 0) {
        /* Not ELF: a PTX (or other) image; use the host .so of the same basename. */
        const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
        size_t stem = (dot && (!slash || dot > slash)) ? (size_t)(dot - path) : strlen(path);
        if (stem + 4 >= sizeof buf) return CUDA_ERROR_INVALID_VALUE;
        snprintf(buf, sizeof buf, "%.*s.so", (int)stem, path);
        if (access(buf, R_OK) != 0) return CUDA_ERROR_INVALID_IMAGE;
        so = buf;
        ptx = read_text(path);
    }
    void *dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        sim_warn("cannot load kernel module %s: %s", so, dlerror());
        free(ptx);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    CUresult r = mod_from_dl(dl, ptx, out);
    free(ptx);
    return r;
}

/* The size of an ELF image from its headers (section table and segments). */
static size_t elf_size(const void *image)
{
    const Elf64_Ehdr *eh = image;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) return 0;
    size_t end = (size_t)eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)image + eh->e_phoff);
    for (unsigned i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_offset + ph[i].p_filesz > end) end = ph[i].p_offset + ph[i].p_filesz;
    return end;
}

static CUresult load_data(const void *image, sim_module **out)
{
    if (!image) return CUDA_ERROR_INVALID_VALUE;
    size_t n = elf_size(image);
    if (!n) return CUDA_ERROR_NO_BINARY_FOR_GPU; /* PTX / fatbin text: no host kernels */
    int fd = memfd_create("hmt-sim-module", MFD_CLOEXEC);
    if (fd < 0) return CUDA_ERROR_OUT_OF_MEMORY;
    const char *p = image;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w <= 0) {
            close(fd);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        done += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    close(fd);
    if (!dl) {
        sim_warn("cannot load kernel module image: %s", dlerror());
        return CUDA_ERROR_INVALID_IMAGE;
    }
    return mod_from_dl(dl, NULL, out);
}

static CUresult need_ctx(void)
{
    SIM_NEED_INIT();
    CUcontext c;
    CUresult r = sim_ctx_current(&c);
    return r != CUDA_SUCCESS ? r : sim_ctx_check(c);
}

SIM_EXPORT CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
    SIM_ENTER();
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS) return r;
    if (!module) return CUDA_ERROR_INVALID_VALUE;
    return load_path(fname, (sim_module **)module);
}

SIM_EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    SIM_ENTER();
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS) return r;
    if (!module) return CUDA_ERROR_INVALID_VALUE;
    return load_data(image, (sim_module **)module);
}

SIM_EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image,
                                       unsigned int numOptions, CUjit_option *options,
                                       void **optionValues)
{
    SIM_ENTER();
    (void)numOptions, (void)options, (void)optionValues; /* JIT options: nothing to JIT */
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS) return r;
    if (!module) return CUDA_ERROR_INVALID_VALUE;
    return load_data(image, (sim_module **)module);
}

SIM_EXPORT CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
    SIM_ENTER();
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS) return r;
    if (!module) return CUDA_ERROR_INVALID_VALUE;
    return load_data(fatCubin, (sim_module **)module);
}

static CUresult unload(sim_module *m)
{
    if (!m) return CUDA_ERROR_INVALID_HANDLE;
    /* Kernels of this module may still be queued: let them finish first. */
    CUcontext c;
    if (sim_ctx_current(&c) == CUDA_SUCCESS) sim_ctx_sync(c);
    m->magic = 0;
    for (unsigned i = 0; i < m->nfuncs; i++) m->funcs[i].magic = 0;
    /* The code is unmapped as on a GPU; the structs stay (g_modules). */
    dlclose(m->dl);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuModuleUnload(CUmodule hmod)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    return unload(mod_check(hmod));
}

static CUresult get_func(sim_module *m, const char *name, sim_func **out)
{
    if (!m) return CUDA_ERROR_INVALID_HANDLE;
    if (!out || !name) return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < m->nfuncs; i++)
        if (strcmp(m->table[i].name, name) == 0) {
            *out = &m->funcs[i];
            return CUDA_SUCCESS;
        }
    return CUDA_ERROR_NOT_FOUND;
}

SIM_EXPORT CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    return get_func(mod_check(hmod), name, (sim_func **)hfunc);
}

SIM_EXPORT CUresult cuModuleGetFunctionCount(unsigned int *count, CUmodule mod)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_module *m = mod_check(mod);
    if (!m) return CUDA_ERROR_INVALID_HANDLE;
    if (!count) return CUDA_ERROR_INVALID_VALUE;
    *count = m->nfuncs;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuModuleEnumerateFunctions(CUfunction *functions, unsigned int numFunctions,
                                               CUmodule mod)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_module *m = mod_check(mod);
    if (!m) return CUDA_ERROR_INVALID_HANDLE;
    if (!functions) return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < numFunctions && i < m->nfuncs; i++)
        functions[i] = (CUfunction)(void *)&m->funcs[i];
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod,
                                         const char *name)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    (void)dptr, (void)bytes;
    if (!mod_check(hmod)) return CUDA_ERROR_INVALID_HANDLE;
    if (!name) return CUDA_ERROR_INVALID_VALUE;
    return CUDA_ERROR_NOT_FOUND; /* host kernel modules have no __device__ globals */
}

SIM_EXPORT CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode *mode)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!mode) return CUDA_ERROR_INVALID_VALUE;
    *mode = CU_MODULE_EAGER_LOADING;
    return CUDA_SUCCESS;
}

/* ---- functions ------------------------------------------------------------------------- */

static CUresult param_info(sim_func *f, size_t idx, size_t *off, size_t *size)
{
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (idx >= f->nparams) return CUDA_ERROR_INVALID_VALUE;
    if (off) *off = f->params[idx].offset;
    if (size) *size = f->params[idx].size;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t *paramOffset,
                                       size_t *paramSize)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    return param_info(sim_func_check(func), paramIndex, paramOffset, paramSize);
}

static CUresult func_attr(int *pi, CUfunction_attribute a, sim_func *f)
{
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (!pi) return CUDA_ERROR_INVALID_VALUE;
    switch (a) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = 32; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = 90; break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = 90; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = 232448; break;
    default:
        if ((int)a < 0 || a >= CU_FUNC_ATTRIBUTE_MAX) return CUDA_ERROR_INVALID_VALUE;
        *pi = 0;
        break;
    }
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    return func_attr(pi, attrib, sim_func_check(hfunc));
}

SIM_EXPORT CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    (void)attrib, (void)value;
    return sim_func_check(hfunc) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

SIM_EXPORT CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    (void)config;
    return sim_func_check(hfunc) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

SIM_EXPORT CUresult cuFuncGetName(const char **name, CUfunction hfunc)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_func *f = sim_func_check(hfunc);
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (!name) return CUDA_ERROR_INVALID_VALUE;
    *name = f->desc->name;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuFuncGetModule(CUmodule *hmod, CUfunction hfunc)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_func *f = sim_func_check(hfunc);
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (!hmod) return CUDA_ERROR_INVALID_VALUE;
    *hmod = (CUmodule)(void *)f->mod;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuFuncIsLoaded(CUfunctionLoadingState *state, CUfunction function)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!sim_func_check(function)) return CUDA_ERROR_INVALID_HANDLE;
    if (!state) return CUDA_ERROR_INVALID_VALUE;
    *state = CU_FUNCTION_LOADING_STATE_LOADED;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuFuncLoad(CUfunction function)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    return sim_func_check(function) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* ---- libraries and kernels ------------------------------------------------------------- */

SIM_EXPORT CUresult cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions,
                                      void **jitOptionsValues, unsigned int numJitOptions,
                                      CUlibraryOption *libraryOptions, void **libraryOptionValues,
                                      unsigned int numLibraryOptions)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    (void)jitOptions, (void)jitOptionsValues, (void)numJitOptions;
    (void)libraryOptions, (void)libraryOptionValues, (void)numLibraryOptions;
    if (!library) return CUDA_ERROR_INVALID_VALUE;
    return load_data(code, (sim_module **)library);
}

SIM_EXPORT CUresult cuLibraryLoadFromFile(CUlibrary *library, const char *fileName,
                                          CUjit_option *jitOptions, void **jitOptionsValues,
                                          unsigned int numJitOptions, CUlibraryOption *libraryOptions,
                                          void **libraryOptionValues, unsigned int numLibraryOptions)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    (void)jitOptions, (void)jitOptionsValues, (void)numJitOptions;
    (void)libraryOptions, (void)libraryOptionValues, (void)numLibraryOptions;
    if (!library) return CUDA_ERROR_INVALID_VALUE;
    return load_path(fileName, (sim_module **)library);
}

SIM_EXPORT CUresult cuLibraryUnload(CUlibrary library)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    return unload(mod_check(library));
}

SIM_EXPORT CUresult cuLibraryGetKernel(CUkernel *pKernel, CUlibrary library, const char *name)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    return get_func(mod_check(library), name, (sim_func **)pKernel);
}

SIM_EXPORT CUresult cuLibraryGetModule(CUmodule *pMod, CUlibrary library)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!mod_check(library)) return CUDA_ERROR_INVALID_HANDLE;
    if (!pMod) return CUDA_ERROR_INVALID_VALUE;
    *pMod = (CUmodule)(void *)library;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuLibraryGetKernelCount(unsigned int *count, CUlibrary lib)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_module *m = mod_check(lib);
    if (!m) return CUDA_ERROR_INVALID_HANDLE;
    if (!count) return CUDA_ERROR_INVALID_VALUE;
    *count = m->nfuncs;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuLibraryEnumerateKernels(CUkernel *kernels, unsigned int numKernels,
                                              CUlibrary lib)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_module *m = mod_check(lib);
    if (!m) return CUDA_ERROR_INVALID_HANDLE;
    if (!kernels) return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < numKernels && i < m->nfuncs; i++)
        kernels[i] = (CUkernel)(void *)&m->funcs[i];
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (!sim_func_check((CUfunction)(void *)kernel)) return CUDA_ERROR_INVALID_HANDLE;
    if (!pFunc) return CUDA_ERROR_INVALID_VALUE;
    *pFunc = (CUfunction)(void *)kernel;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuKernelGetLibrary(CUlibrary *pLib, CUkernel kernel)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_func *f = sim_func_check((CUfunction)(void *)kernel);
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (!pLib) return CUDA_ERROR_INVALID_VALUE;
    *pLib = (CUlibrary)(void *)f->mod;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuKernelGetParamInfo(CUkernel kernel, size_t paramIndex, size_t *paramOffset,
                                         size_t *paramSize)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    return param_info(sim_func_check((CUfunction)(void *)kernel), paramIndex, paramOffset,
                      paramSize);
}

SIM_EXPORT CUresult cuKernelGetName(const char **name, CUkernel hfunc)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    sim_func *f = sim_func_check((CUfunction)(void *)hfunc);
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (!name) return CUDA_ERROR_INVALID_VALUE;
    *name = f->desc->name;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuKernelGetAttribute(int *pi, CUfunction_attribute attrib, CUkernel kernel,
                                         CUdevice dev)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    return func_attr(pi, attrib, sim_func_check((CUfunction)(void *)kernel));
}

SIM_EXPORT CUresult cuKernelSetAttribute(CUfunction_attribute attrib, int val, CUkernel kernel,
                                         CUdevice dev)
{
    SIM_ENTER();
    SIM_NEED_INIT();
    (void)attrib, (void)val;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    return sim_func_check((CUfunction)(void *)kernel) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* ---- launches --------------------------------------------------------------------------- */

CUresult sim_pack_params(sim_func *f, void **kernelParams, void **extra, char **bufp,
                         size_t *sizep)
{
    if (kernelParams && extra) return CUDA_ERROR_INVALID_VALUE;
    const sim_func *d = f;
    size_t need = f->param_bytes;
    const void *ebuf = NULL;
    size_t esize = 0;
    bool have_size = false;
    if (extra) {
        for (size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
            if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
                ebuf = extra[i + 1];
            } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
                if (!extra[i + 1]) return CUDA_ERROR_INVALID_VALUE;
                esize = *(size_t *)extra[i + 1];
                have_size = true;
            } else {
                return CUDA_ERROR_INVALID_VALUE;
            }
        }
        if (!ebuf || !have_size || esize < need) return CUDA_ERROR_INVALID_VALUE;
    } else if (!kernelParams && d->nparams > 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    size_t size = esize > need ? esize : need;
    char *buf = calloc(1, size ? size : 1);
    if (!buf) return CUDA_ERROR_OUT_OF_MEMORY;
    if (extra) {
        memcpy(buf, ebuf, esize);
    } else {
        for (unsigned i = 0; i < d->nparams; i++) {
            if (!kernelParams[i]) {
                free(buf);
                return CUDA_ERROR_INVALID_VALUE;
            }
            memcpy(buf + d->params[i].offset, kernelParams[i], d->params[i].size);
        }
    }
    *bufp = buf;
    *sizep = size;
    return CUDA_SUCCESS;
}

static CUresult launch(CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                       unsigned by, unsigned bz, unsigned shmem, CUstream h, bool ptsz,
                       void **kernelParams, void **extra)
{
    SIM_NEED_INIT();
    sim_func *f = sim_func_check(fn);
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    struct CUstream_st *s;
    CUresult r = sim_stream_resolve(h, ptsz, &s);
    if (r != CUDA_SUCCESS) return r;
    if ((r = sim_ctx_check(s->ctx)) != CUDA_SUCCESS) return r;
    if (!gx || !gy || !gz || !bx || !by || !bz) return CUDA_ERROR_INVALID_VALUE;
    if (gy > 65535 || gz > 65535 || bx > 1024 || by > 1024 || bz > 64) return CUDA_ERROR_INVALID_VALUE;
    if ((unsigned long long)bx * by * bz > 1024) return CUDA_ERROR_INVALID_VALUE;
    if (shmem > 232448) return CUDA_ERROR_INVALID_VALUE;
    sim_work w = {.kind = W_KERNEL};
    r = sim_pack_params(f, kernelParams, extra, &w.kern.buf, &w.kern.bufsize);
    if (r != CUDA_SUCCESS) return r;
    w.kern.f = f;
    w.kern.launch = (hmt_sim_launch){{gx, gy, gz}, {bx, by, bz}, shmem, (void *)h};
    atomic_fetch_add(&f->launches, 1);
    return sim_submit(s, &w);
}

SIM_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                   unsigned int gridDimZ, unsigned int blockDimX,
                                   unsigned int blockDimY, unsigned int blockDimZ,
                                   unsigned int sharedMemBytes, CUstream hStream,
                                   void **kernelParams, void **extra)
{
    SIM_ENTER();
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                  sharedMemBytes, hStream, false, kernelParams, extra);
}

SIM_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                        unsigned int gridDimZ, unsigned int blockDimX,
                                        unsigned int blockDimY, unsigned int blockDimZ,
                                        unsigned int sharedMemBytes, CUstream hStream,
                                        void **kernelParams, void **extra)
{
    SIM_ENTER();
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                  sharedMemBytes, hStream, true, kernelParams, extra);
}

SIM_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX,
                                              unsigned int gridDimY, unsigned int gridDimZ,
                                              unsigned int blockDimX, unsigned int blockDimY,
                                              unsigned int blockDimZ, unsigned int sharedMemBytes,
                                              CUstream hStream, void **kernelParams)
{
    SIM_ENTER();
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                  sharedMemBytes, hStream, false, kernelParams, NULL);
}

SIM_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX,
                                                   unsigned int gridDimY, unsigned int gridDimZ,
                                                   unsigned int blockDimX, unsigned int blockDimY,
                                                   unsigned int blockDimZ,
                                                   unsigned int sharedMemBytes, CUstream hStream,
                                                   void **kernelParams)
{
    SIM_ENTER();
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                  sharedMemBytes, hStream, true, kernelParams, NULL);
}

static CUresult launch_ex(const CUlaunchConfig *c, CUfunction f, void **kp, void **extra, bool ptsz)
{
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    if (c->numAttrs && !c->attrs) return CUDA_ERROR_INVALID_VALUE;
    return launch(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY,
                  c->blockDimZ, c->sharedMemBytes, c->hStream, ptsz, kp, extra);
}

SIM_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f,
                                     void **kernelParams, void **extra)
{
    SIM_ENTER();
    return launch_ex(config, f, kernelParams, extra, false);
}

SIM_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f,
                                          void **kernelParams, void **extra)
{
    SIM_ENTER();
    return launch_ex(config, f, kernelParams, extra, true);
}
