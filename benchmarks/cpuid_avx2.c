/* Makes a process see an AVX2 + FMA CPU without AVX-512 or VNNI, for benchmarks.
 *
 * The issues' speed targets are for an AVX2-only machine (an AMD EPYC without AVX-512 or VNNI),
 * and onnxruntime picks its kernels by CPUID: on a development machine with AVX-512 it would
 * be measured on kernels the target machine does not have.  Preloaded into a process
 * (LD_PRELOAD, see bench.py --emulate-avx2), this library turns on CPUID faulting
 * (arch_prctl ARCH_SET_CPUID, Linux on CPUs with the cpuid_fault flag) and answers every CPUID
 * from a SIGSEGV handler: the real answer with the AVX-512, VNNI and AMX feature bits cleared.
 * The setting is per thread and inherited by threads and forks created after it, so it is made
 * in a constructor, before the program starts any thread.  What ran before it (the dynamic
 * loader's own CPU detection, so glibc's choice of memcpy) still sees the real CPU; that does
 * not touch either engine's kernels.
 *
 * Only the CPUID answer changes: the instructions still run if some code uses them without
 * asking (none of the measured engines does), and XGETBV still reports the AVX-512 state
 * enabled (engines also require the CPUID bit before using it).
 *
 * Build: gcc -O2 -shared -fPIC cpuid_avx2.c -o libcpuid_avx2.so
 * A process can check the emulation through the two functions at the bottom (ctypes).
 * Do not combine with a program that installs its own SIGSEGV handler: Python's faulthandler
 * (`-X faulthandler` or PYTHONFAULTHANDLER, whatever their value; pytest turns it on) would
 * replace this one, and the next CPUID would kill the process.
 *
 * Without CPUID faulting (AMD hosts under KVM, for one), bench.py falls back to patched copies
 * of onnxruntime's libraries: each CPUID instruction that objdump finds in them (0F A2) becomes
 * UD2 (0F 0B), and the file named by CPUID_AVX2_SITES lists the patched sites, one line per
 * library: its file name, then the sites' offsets from its load address, in hex.  This library
 * then answers the SIGILL of those sites (and only those) the same way. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static int active;                  /* 1: CPUID faulting is on; 2: patched sites (see above) */
static int sites_on;                /* the SIGILL of the listed sites is answered (either mode) */
static volatile long trapped;       /* CPUID executions answered (all threads, approximate) */

static long set_cpuid_faulting(int on)
{
    /* ARCH_SET_CPUID's argument: 1 lets CPUID run, 0 makes it fault */
    return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0UL : 1UL);
}

/* Leaf 7 feature bits to hide: AVX-512 in all its parts, VNNI (AVX-512 and VEX), AMX. */
static void mask_leaf7(uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    if (subleaf == 0) {
        /* EBX: AVX512F 16, DQ 17, IFMA 21, PF 26, ER 27, CD 28, BW 30, VL 31 */
        *b &= ~(UINT32_C(1) << 16 | UINT32_C(1) << 17 | UINT32_C(1) << 21 | UINT32_C(1) << 26 |
                UINT32_C(1) << 27 | UINT32_C(1) << 28 | UINT32_C(1) << 30 | UINT32_C(1) << 31);
        /* ECX: VBMI 1, VBMI2 6, VNNI 11, BITALG 12, VPOPCNTDQ 14 */
        *c &= ~(UINT32_C(1) << 1 | UINT32_C(1) << 6 | UINT32_C(1) << 11 | UINT32_C(1) << 12 |
                UINT32_C(1) << 14);
        /* EDX: 4VNNIW 2, 4FMAPS 3, VP2INTERSECT 8, AMX-BF16 22, FP16 23, AMX-TILE 24, AMX-INT8 25 */
        *d &= ~(UINT32_C(1) << 2 | UINT32_C(1) << 3 | UINT32_C(1) << 8 | UINT32_C(1) << 22 |
                UINT32_C(1) << 23 | UINT32_C(1) << 24 | UINT32_C(1) << 25);
    } else if (subleaf == 1) {
        /* EAX: AVX-VNNI 4, AVX512-BF16 5, AVX-IFMA 23; EDX: AVX-VNNI-INT8 4, AVX-NE-CONVERT 5,
         * AVX10 19 */
        *a &= ~(UINT32_C(1) << 4 | UINT32_C(1) << 5 | UINT32_C(1) << 23);
        *d &= ~(UINT32_C(1) << 4 | UINT32_C(1) << 5 | UINT32_C(1) << 19);
    }
}

/* The patched sites (fallback without CPUID faulting): up to MAX_SITES offsets, each in the
 * library whose file name (the part after the last '/') is site_lib[i]. */
#define MAX_SITES 512
#define MAX_LIBS 8
static int nsites;
static uintptr_t site_off[MAX_SITES];
static int site_lib[MAX_SITES];
static char lib_names[MAX_LIBS][128];
static int nlibs;

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Reads CPUID_AVX2_SITES: lines "NAME OFF OFF ...".  Returns the number of sites. */
static int load_sites(const char *path)
{
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *save_line = NULL;
    for (char *line = strtok_r(buf, "\n", &save_line); line && nlibs < MAX_LIBS;
         line = strtok_r(NULL, "\n", &save_line)) {
        char *save_tok = NULL, *tok = strtok_r(line, " ", &save_tok);
        if (!tok || strlen(tok) >= sizeof lib_names[0])
            continue;
        strcpy(lib_names[nlibs], tok);
        while ((tok = strtok_r(NULL, " ", &save_tok)) && nsites < MAX_SITES) {
            site_off[nsites] = (uintptr_t)strtoull(tok, NULL, 16);
            site_lib[nsites++] = nlibs;
        }
        nlibs++;
    }
    return nsites;
}

/* Is ip one of the patched sites? */
static int is_site(const unsigned char *ip)
{
    Dl_info info;
    if (ip[0] != 0x0f || ip[1] != 0x0b || !dladdr(ip, &info) || !info.dli_fname)
        return 0;
    uintptr_t off = (uintptr_t)ip - (uintptr_t)info.dli_fbase;
    const char *name = base_name(info.dli_fname);
    for (int i = 0; i < nsites; i++)
        if (site_off[i] == off && strcmp(lib_names[site_lib[i]], name) == 0)
            return 1;
    return 0;
}

static void on_fault(int sig, siginfo_t *info, void *context)
{
    (void)info;
    ucontext_t *uc = context;
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)g[REG_RIP];
    int patched = sig == SIGILL && sites_on && is_site(ip);
    if (!patched && (sig != SIGSEGV || active != 1 || ip[0] != 0x0f || ip[1] != 0xa2)) {
        /* A real fault: die of it as the program would have without us. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        return;   /* the faulting instruction runs again, now under the default action */
    }
    int saved_errno = errno;
    uint32_t leaf = (uint32_t)g[REG_RAX], subleaf = (uint32_t)g[REG_RCX], a, b, c, d;
    if (!patched)
        set_cpuid_faulting(0);
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(subleaf));
    if (!patched)
        set_cpuid_faulting(1);
    if (leaf == 7)
        mask_leaf7(subleaf, &a, &b, &c, &d);
    g[REG_RAX] = a;
    g[REG_RBX] = b;
    g[REG_RCX] = c;
    g[REG_RDX] = d;
    g[REG_RIP] += 2;   /* past the two bytes of CPUID (or of the UD2 standing for it) */
    trapped++;
    errno = saved_errno;
}

__attribute__((constructor)) static void cpuid_avx2_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0)
        return;
    active = 1;                       /* before faulting is on: the handler checks it */
    if (set_cpuid_faulting(1) != 0)
        active = 0;                   /* no cpuid_fault on this CPU or kernel */
    /* The patched copies' UD2 sites are answered too where faulting works (an AVX2-only Zen 3
     * under KVM has cpuid_fault): bench.py may have patched them on another host, and a UD2
     * left unanswered would kill the process. */
    const char *sites = getenv("CPUID_AVX2_SITES");
    if (!sites || !load_sites(sites))
        return;
    sites_on = 1;                     /* before the handler can see a SIGILL */
    sa.sa_sigaction = on_fault;
    if (sigaction(SIGILL, &sa, NULL) != 0)
        sites_on = 0;
    else if (!active)
        active = 2;
}

/* 1 if CPUID is being answered by this library through CPUID faulting, 2 if through the patched
 * sites of CPUID_AVX2_SITES, else 0. */
int cpuid_avx2_active(void) { return active; }

/* How many CPUID executions it has answered so far. */
long cpuid_avx2_trapped(void) { return trapped; }
