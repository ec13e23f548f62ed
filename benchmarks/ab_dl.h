/* The two-build harnesses' symbol lookup (pointwise_ab.c, qpw_ab.c): a function of a dlopen'ed
 * build, or the loader's message and exit. */
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
#endif
