/* The two-build harnesses' symbol lookup (pointwise_ab.c, qpw_ab.c, chan_nhwc_potential.c): a
 * function of a dlopen'ed build, or the loader's message and exit; libpython for them. */
#ifndef AB_DL_H
#define AB_DL_H
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void *sym(void *h, const char *name)
{
    void *f = dlsym(h, name);
    if (!f) {
        fprintf(stderr, "%s\n", dlerror());
        exit(1);
    }
    return f;
}

/* The builds are Python extensions: their Cython part needs libpython's symbols, loaded
 * global before the first build is */
static inline void ab_libpython(void)
{
    if (!dlopen("libpython3.11.so.1.0", RTLD_NOW | RTLD_GLOBAL) &&
        !dlopen("libpython3.so", RTLD_NOW | RTLD_GLOBAL))
        fprintf(stderr, "no libpython (set LD_LIBRARY_PATH): %s\n", dlerror());
}
#endif
