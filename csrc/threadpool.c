/* Thread pool.
 *
 * A persistent pool of nthreads-1 workers plus the calling thread.  A job is
 * [0, n) cut into at most nthreads static chunks; chunk t runs as
 * fn(arg, t, ...), so t doubles as a per-thread workspace slot.
 *
 * Dispatch: the caller publishes the job in one 64-bit state word
 * (generation << 32 | mask of claimed chunks).  Workers spin on the
 * generation for a while (back-to-back kernels of one inference dispatch in
 * well under a microsecond), then sleep on a condvar so an idle pool burns no
 * core.  Every chunk is claimed with a CAS on the state word, by its own
 * worker or by anyone who finishes early: when a worker is asleep or
 * descheduled (a loaded machine), the caller runs its chunk instead of
 * waiting for it.  A worker that wakes late for an old job fails its CAS and
 * drops whatever it read.
 *
 * A worker that finds itself on its caller's CPU (the caller publishes sched_getcpu() with
 * each job) first moves itself off it (move_off: for a moment its affinity mask without that
 * CPU); where it cannot (one CPU allowed) it stands aside: it claims nothing and sleeps
 * instead of spinning, and the caller runs the job alone.  On a loaded host Linux often leaves both threads on one core (the
 * other core busy, each process its own autogroup: the loads look balanced); there the
 * worker's spin took half of that core from the caller and its chunks only took turns with
 * the caller's (s16: CPU time = wall time at 2 threads, MnasNet slower at 2 threads than at
 * 1).  The caller wakes such a worker again at most every TC_POOL_PROBE_NS: a wake-up puts it
 * on an idle CPU if there is one.  s16-mt's fix, moving the worker off by affinity, was
 * measured and dropped: onto a crowded core it gets a fair share there and is descheduled
 * inside its chunks (3x slower at equal priority at load 8).
 *
 * Measured (s17, 2026-12-02, AVX2 emulation, loaded host): the splits are not what 2 threads
 * lose.  A simulation build (each chunk of every 2-thread job timed in turn on the caller,
 * thread CPU time, chunks assigned as the claims would go) gives the jobs' ideal speedup:
 * MobileNetV2 1.93 (int8 1.93), MnasNet 1.93, RegNetY-400MF 1.88-1.93, every GEMM, depthwise,
 * banded and int8 step 1.85-1.97 (the banded steps were the outlier in work, not in balance:
 * each band re-expanded its halo, see tc_fused_state).  An empty region costs 0.3 us with the
 * worker spinning; after a gap past TC_POOL_SPIN_NS the worker's wake-up takes 8-15 us.
 *
 * Measured (s20, 2026-12-03 00:15-00:45, AVX2 emulation, host at load 3-9).  Under that load
 * (CFS) a second thread gives nothing: MobileNetV2 at 2 threads 1.07-1.62 of its 1-thread wall
 * time in four process pairs; the worker ran 0.1-0.7 ms a run beside the caller's 8.6-10.6,
 * woken 8-12 times a run by the probe, and stood aside the rest (onnxruntime's spinning pool: 2
 * threads 1.2-2.2x its 1-thread wall, twice the CPU).  Under SCHED_FIFO (chrt -f 10: both cores
 * ours; see benchmarks/mt_procs.py) each thread on its own CPU, never switched out: MobileNetV2
 * 2 threads min 3.98-4.09 ms against onnxruntime's 3.73-3.88, 1 thread 7.09-7.27 against
 * 7.17-7.53 (speedup about 1.77 against 1.92); MnasNet 4.29 / 4.03 and 7.41 / 7.67.  Per step at
 * 2 threads (good processes) 1.58-1.95.  But whole processes fall into slow spells, 2 threads at
 * 6.2-6.8 ms, the FMA peak unchanged (226-233 GFLOP/s at 2 threads): the host's memory side.
 * Where the 2-thread time goes (an instrumented copy of this file: per job, how long one thread
 * idled for the other at the end; 300 runs): ~320 us of a 4.0 ms run in a good process (GEMM
 * tasks ~100, the 56x56 inverted-residual bands 74 per job, the stem block's 46), 515-1260 us in
 * a slow one (GEMM jobs 340-1050: one thread much slower than the other, no chunk left to
 * take); the empty region 0.36 us, 46 real jobs a run (70 calls, 24 of them the serial inner
 * calls of banded steps).  Tried and dropped: stealing from the END of the other thread's share
 * (the highest unclaimed run's upper half, in order; a share untouched taken whole), so that an
 * owner's bands stay consecutive and carry their halo rows, where the thief now takes the
 * owner's NEXT chunk: an instrumented copy of the new order and the old build in one process at
 * 2 threads, bursts alternating, new / old 0.996 [0.981-1.032] and 1.009 under SCHED_FIFO, 1.008
 * and 1.016 at load 9 (the control, an instrumented copy of the old order against the old build:
 * 1.000-1.014).  Neither is the running of the 28x28, 14x14 and 7x7 blocks banded at 2 threads
 * (fused_ir.py's IR_FUSE_MIN_BYTES 0, lone blocks, SCHED_FIFO): 1.08, 1.11, 1.22 of their
 * unbanded time.
 *
 * Measured (s21, 2026-12-03 03:37-03:52, AVX2 emulation, SCHED_FIFO, MobileNetV2 at 2 threads,
 * 300 runs, the fastest 30% kept; benchmarks/pool_trace.patch + pool_trace.py time every chunk):
 * in good processes (3.9-4.1 ms a run) the threads' idle at the ends of jobs sums to 165-210
 * us a run (GEMMs 76-91 over 34 jobs, the banded blocks 45 + 35-39 -> 15 + 33 since s21's band
 * choice (fused_ir.band_rows), depthwise 24-27 over 12 jobs), and 80-125 us go outside any pool
 * call (Python between steps): the splits lose ~100 us of wall time, not the ~450 us by which
 * 2 threads miss half the 1-thread time.  The rest is slower chunks: per job one thread runs
 * its chunks 20-50% slower than the other, which one changing from job to job (MobileNetV2's
 * features.2 worker bands 98 us against the caller's 64, features.3 48 against 60), and each
 * thread's first chunk of a job runs slower than its next ones (features.3's worker band 124 us
 * then 61-65; summed over a slow process's jobs ~170 us a run on the caller, ~210 on the
 * worker).  A guess, not shown: the data a thread's chunks touch last sat in the other core's
 * L2 (the previous step split another way, a workspace slot last written by the other thread).
 * Tried and dropped (a planner giving steps workspaces of their own, both plans in one process
 * at 2 threads under SCHED_FIFO, bursts alternating, 03:5x): lone features.2 + .3 (pool_trace)
 * ran .3 in 429 / 398 us with its own workspace against 637 / 475 us on the shared one (its
 * caller's bands 91-112 us against 47 alone), but whole MobileNetV2 every step on its own
 * workspace 1.012 / 1.012 (53 MB of workspaces, control 0.996), only the banded steps on
 * their own 0.992 / 1.002 / 1.001, per step in the network no clear change: what a thread's
 * slot overlaps is not the whole story.  Every GEMM split its tiles evenly (each thread its
 * half, stealing rare), so finer GEMM tiles would only move the 5-10 us tails; at 7x7 each
 * extra row range repeats the aligned copy of B (gemm_copy_ldb, ~5% of a 120-row range's
 * FMAs): not tried.
 *
 * Measured (s22, 2026-12-03 07:20-08:00, AVX2 emulation, SCHED_FIFO, pool_trace.py, 300 runs,
 * the fastest 30% kept; host at load 4-8).  MobileNetV2 at 2 threads, two processes: 5.2 and
 * 4.8 ms a run; idle at the ends of jobs 626 / 416 us a run, GEMM jobs 487 / 272 of it (34
 * jobs).  In the first process the caller ran every GEMM job's chunks ~20% slower than the
 * worker (8 chunks, 4 each: 64 against 53 us; the 7x7 row halves 95-195 against 75-155), in the
 * second both alike: a property of the process (which vCPU), not of the chunk.  Two threads
 * pinned to the two vCPUs (small C loops): register-only FMAs run alike and steadily (111-121
 * us a block); the same FMAs with their accumulators loaded and stored through the stack each
 * step flip between 1x and 1.7x their best time from one 250 ms round to the next, on either
 * vCPU; steal time 2.6% on one: the host's other tenants on the same cores (memory side), not
 * the pool.  Time outside any pool call 133-162 us a run: ~25 before the first call (the run's
 * entry), ~40 after the last (output copy, return to Python) and 0.7-1.9 between calls, of
 * which getpid() was 0.3-0.46 (now fork_count).  Tried and dropped: GEMM jobs cut finer at 2
 * threads (gemm.c's column cuts up to 8 per thread instead of 4, row ranges of >= 21 panels
 * instead of 43), so that a faster thread could take more of a slow one's share: in one process
 * against the old build, bursts alternating, MobileNetV2 1.004 [0.993-1.022] and 1.002
 * [0.980-1.014], RegNetY-400MF 1.016 [0.996-1.034] (control, old against old: 0.997-0.999).
 *
 * Measured (s24, 2026-12-03 13:40-14:00, native Zen 3, KVM guest, kernel 6.18): standing aside
 * alone let a quiet 2-CPU host run whole bursts on one thread.  A worker asleep at a burst's
 * first job (a gap past TC_POOL_SPIN_NS) was woken onto the caller's CPU although the other CPU
 * was idle, stood aside, and every probe's wake-up put it back there (the wake-up goes to the
 * CPU it last ran on): an instrumented pool counted, per burst of 6 MobileNetV3-Small runs, 9-14
 * probes and 0 of 252 jobs run by the worker in the slow bursts, all 252 in the others.  That
 * is bench.py's bimodal 2-thread times of the short networks (MobileNetV3-Small 2t median 2.22
 * ms, 10th percentile 1.43; ShuffleNetV2 4.03 / 2.22, as at 1 thread).  With move_off the worker
 * moves once a burst and runs every job; two processes alternating bursts at 2 threads (alt.py,
 * 16 rounds), new / old wall: MobileNetV3-Small 0.70-0.72 quiet, 0.61 beside 2 busy processes;
 * ShuffleNetV2 0.91; MobileNetV2 1.01, MnasNet 1.02 (the worker was seldom woken there: long
 * runs keep it spinning); beside 4 busy processes ShuffleNetV2 1.04, MnasNet 1.00 (s16's
 * pinning was 3x slower there: this move is one-shot, the kernel may move the worker back).
 *
 * Measured (s28, 2026-12-04 11:30-11:45, Zen 4 KVM guest, AVX2 emulation, host at load 4-25
 * from other builds; benchmarks/pool_ab.py: one process per build, bursts of 5 runs alternating
 * as bench.py's 2-thread method, a quiet wait before each; --stats reads every thread's
 * schedstat / sched around the bursts, and a build patched with benchmarks/pool_diag.patch
 * counts this pool's events).  At nice -20 in an autogroup of its own (bench.py --nice -20's
 * setup), within a burst the pool's sleep / wake machinery does nothing: per run (MobileNetV2
 * fp32, int8 ResNet-50 QDQ, int8 ResNet-18) the worker sleeps 0 times (pool_ab counts 1 a
 * burst: its own /proc reads before the first timed run outlast TC_POOL_SPIN_NS), 0 probes, 0
 * stand-asides, 0 moves, 0 CPU changes of either thread, 0 jobs run inline for a busy pool;
 * the worker starts each job 0.3-0.6 us after its publication.  MobileNetV2: 46 jobs a run
 * (28 more calls run inline, one chunk), the chunks split 285 / 278 worker / caller.  The same
 * build with its bursts under SCHED_FIFO (pool_ab CHECKOUT@fifo) against CFS, alternating
 * processes: MobileNetV2 0.978 [0.953-1.009], int8 ResNet-50 0.973 [0.902-0.984] (onnxruntime
 * 0.94 / 0.93): CFS costs 2-3% at nice -20 (run-queue waits of 0.3-0.8 ms in a 22 ms run,
 * other tasks' slices).  What 2 threads lose instead: (a) the host's slow spells, both engines
 * alike (MobileNetV2 2 threads 3.8 ms in some bursts, 5.4-7.1 in others, onnxruntime 4.1 /
 * 7.2-9.7; bench.py's quiet run at 11:15 has the same two modes, p10 3.91, median 4.81); (b)
 * the end of jobs: the caller waits 100-300 us a MobileNetV2 run, 0.6-2.6 ms an int8 ResNet-50
 * run (82-1196 sched_yield calls: waits past 4096 pauses, ~100 us at 25 ns a pause), 0.9 ms an
 * int8 ResNet-18 run (34 jobs, 7% of its 2-thread CPU time idle at job ends); (c) serial time:
 * pool_trace.py on int8 ResNet-50 (fastest 30% of 100 runs, 19.2 ms): 585 us a run idle at job
 * ends (qdriver_task 317, qdriver_fill_rows 97 -- one call 68 us on the caller against 11 on
 * the worker --, qwg_chunks 82, copy_rows 59: its caller half 154 us, the worker's 96) and
 * 417-470 us outside any pool call (65 us before the classifier's qdriver_task, 11-22 us
 * between the 7x7 stage's convolutions).  Beside the load at nice 0 (load 7-17): each
 * process gets a fraction of the CPU (MobileNetV2 23 ms a run against 5.5 with FIFO bursts,
 * onnxruntime 36; CPU time a run unchanged, 11.1 ms), the caller runs 72% of the chunks,
 * the worker sleeps 1.4 times a run and is woken 16 times a job publication finds it asleep,
 * still 0 stand-asides or moves.  Tried and dropped, each against the base relinked the same
 * way and a copy of the base as control, MobileNetV2 / V3-Small / ShuffleNetV2 /
 * EfficientNet-B0 fp32, int8 MobileNetV2 and ResNet-50, 15-30 rounds: (1) the caller's end
 * wait yields only when a worker last started a job on its CPU (else pauses on, a yield every
 * 1024 pauses): nice -20 with a control in the same run MobileNetV2 1.008 (control 1.011),
 * ResNet-50 1.006 (1.008), V3-Small 0.989 (0.996), ShuffleNetV2 1.006 (1.015), EfficientNet
 * 1.001 (0.992), int8 MobileNetV2 0.995 (0.997) (a first run without control read 0.930
 * [0.909-0.999] / 0.954 on MobileNetV2 / ResNet-50: noise); nice 0 under load MobileNetV2
 * 1.047 [0.950-1.133], ResNet-50 1.060 (control 1.061 / 0.974); (2) TC_POOL_SPIN_NS 1 ms
 * (what a run-scope spin would do: at nice -20 no gap within a burst outlasts 200 us):
 * nice -20 0.973-0.998 (controls 0.992-1.015 in the same runs; V3-Small 0.985, ShuffleNetV2
 * 0.992, EfficientNet 0.998, int8 MobileNetV2 0.994), nice 0 under load 1.030 / 1.125
 * [0.995-1.242]: within the noise quiet, maybe worse under load.  A run-scope flag keeping the
 * worker spinning through a run was not built: at nice -20 the worker never sleeps within a
 * run, and under load a spinning worker takes its CPU from its own autogroup, the caller's
 * share.  The short networks at nice -20 alike: FIFO / CFS MobileNetV3-Small 0.978
 * [0.958-0.992], ShuffleNetV2 0.991 [0.976-0.999] (20 rounds; MobileNetV3-Small's worker moves
 * off the caller's CPU once every second burst, at its start); there the worker waits for jobs
 * 15-21% of a run (260 / 670 us of 1.78 / 3.2 ms) and the caller 90 / 276 us at job ends:
 * ShuffleNetV2 (pool_trace, fastest 30% of 300 runs, 3.13 ms) runs 13 copy_planes_range calls
 * on one thread (eltwise.c's 256 KB grain), 378 us a run, idles 402 us at job ends (gemm_task
 * 277, dw_block_task 106) and 103 us outside any pool call (the copies now split: eltwise.c's
 * tc_copy_planes_f32, ShuffleNetV2 0.965-0.969).  Next: the splits of the int8 jobs
 * (qdriver_fill_rows, copy_rows, int8 jobs of 2-3 chunks a thread), the GEMM and depthwise
 * jobs' ends (MobileNetV2: gemm_task 206, dw_block_task 94, ir_task 86 us idle a run) and the
 * serial glue between int8 steps, not this pool's scheduling.
 *
 * Measured (n31-2t, 2026-12-04 21:45-22:03, Zen 4 KVM guest, AVX2 emulation, pool_ab.py
 * --stats --dump, bursts of 5 runs alternating between processes).  What a slow spell is: (a)
 * with FIFO bursts (both CPUs ours, no run-queue wait, 0 involuntary switches or migrations in
 * either engine) it is the host, in time, not the process: SqueezeNet at 2 threads in 6 sets of
 * processes (3 rounds each) tinycnn 4.33-4.60 | 3.38-4.14 | 3.05-3.21 | 3.06 | 4.10-4.25 |
 * 5.5-6.6 ms, onnxruntime in the same sets 4.76-4.90 | 3.94-4.48 | 3.85-3.93 | 3.70-3.75 |
 * 4.60-4.70 | 6.0-7.4 (tinycnn / onnxruntime 0.79-0.83 in the fast sets, 0.88-0.94 in the slow
 * ones: our run suffers a little more); (b) at nice 0 beside other work the worker waits in a
 * run queue: SqueezeNet bursts of 5.4-13 ms had the worker runnable but waiting 20-44 ms a
 * burst (running 15-26), the caller's CPU time 28-64 ms a burst against 16 in the quiet bursts
 * (3.06-3.15 ms a run, no wait): the caller spinning, then sched_yield (which keeps its CPU
 * busy, never idle), at job ends for a worker preempted inside a chunk it had claimed on the
 * other, shared CPU.  Hence the caller's end wait now blocks (caller_waiting, `done`) after
 * TC_POOL_END_SPIN_NS of spinning: its CPU idles and the scheduler can pull the worker over.
 * The same processes against the build without it (pool_ab.py, 3 sets of processes, old / new
 * burst medians): FIFO bursts (15 rounds) SqueezeNet 1.003 [0.990-1.009], MobileNetV2 1.000
 * [0.988-1.004], V3-Small 0.994 [0.974-1.023]; at nice 0 beside the other helpers' load
 * MobileNetV2 1.554 [1.185-1.795] (30 rounds) and 1.184 [1.014-1.523] (15), SqueezeNet 1.005
 * [0.928-1.256] and 1.107 [1.007-1.730], V3-Small 0.998 [0.757-1.105] and 0.884 [0.781-1.087];
 * beside one more busy loop of ours SqueezeNet 0.887 [0.779-1.087], MobileNetV2 1.006
 * [0.952-1.131]: wide, mostly level or better; the caller's CPU time a run 5.2 / 8.0 ms
 * (SqueezeNet), 6.2 / 10.4 (MobileNetV2).  Blocking after 4096 pauses (~100 us) instead of 1 ms:
 * SqueezeNet 0.976 [0.959-0.988] at light load (the classifier's long chunks outlast 100 us:
 * a wake-up's latency added), dropped.
 *
 * Measured (n34-2t, 2026-12-05 07:1x, Xeon KVM guest, AVX2 emulation): SqueezeNet 1.1 at 2
 * threads.  bench.py (the lead's base run) 2 threads tinycnn median 4.35 ms (min 3.91),
 * onnxruntime 5.03 (4.59): 0.86; speedups over 1 thread 1.49 against 1.73.  pool_trace.py
 * (chrt -f 10, the fastest 30% of 300 runs, 3.98 ms): idle at job ends 292 us a run, 88 us
 * outside any pool call; gemm_task 118 (the 13x13 squeezes' 4-chunk jobs 8-14 us each: 169
 * columns cut 32 + 48 | 48 + 41, the worker's share 6 tile calls to the caller's 5, the worker
 * 12-15% slower), chunk_range 76 (the Winograd whole chunks: the caller's chunk 0 11-34 us
 * slower than the worker's in every layer; at 27x27 25 tiles against 24).  The larger loss:
 * the 55x55 1x1 steps take as long at 2 threads as at 1 (features.3 squeeze 69 us against 72,
 * expand1x1 80 / 80, features.4 squeeze 157 / 156: every chunk 16-19 us where 1 thread's eighth
 * takes 9-10).  Cut alone and warm they scale (benchmarks/cuts_mt.py, chrt -f 10, 20 rounds,
 * step sums: 1.62, 1.37, 1.91), cold not (16 MB written before each run: 0.94, 0.92, 1.24);
 * in a chain (two fire modules cut whole) they run at 2 threads as cold (features.4 squeeze 167
 * / 162 us) and at 1 thread as warm, though each thread reads the columns it wrote the step
 * before (the squeeze's and the expand 1x1's chunks 0-3 and the 3x3's top 7 tile rows are the
 * caller's).  Not located; smaller Winograd chunks did not change it (winograd.c).  Lone, each
 * thread's first chunk of a job runs 2x its next ones (16 -> 64: 22 us, then 11.7).  A 2 ms
 * sleep before each run made the warm squeeze alone at 1 thread 1.6x slower, as slow as
 * evicted: the idle vCPU's core runs other work (KVM).
 *
 * Measured (h35-2t, 2026-12-05 10:3x, same host, AVX2 emulation, SCHED_FIFO).  What a line last
 * written by the other core costs (benchmarks/xcore_bw.c, two pinned threads, best of 200): a
 * read 15-19 GB/s against 107-112 from the core's own L2 and 25-28 after a 32 MB stream (memory),
 * a write over it 12-14 GB/s against 60.  Whether SqueezeNet's 55x55 1x1 steps pay that: every
 * GEMM job's chunks handed to the other thread (the caller starting at the upper half,
 * benchmarks/chunk_swap.patch's TC_X_GEMM_SWAP, benchmarks/mt_inproc.py --fifo, 8 processes x
 * 60 runs, twice, bit-identical), so that the squeezes read the stem's and the Winograd
 * expand3x3's halves from the other core: features.3 / .4 squeeze 0.972-1.001 / 0.973-1.040
 * of the base's time, level: their inputs are not in the reading core's L2 in the base either
 * (with the Winograd chunks swapped too, TC_X_WG_SWAP: the same).  features.3 expand1x1 0.79
 * both times (76 -> 60 us), features.4's 1.04, the stem + pool 1.00-1.07, the whole run
 * 1.000-1.004: not kept.  Nor is it the worker's spin: a pinned thread's 9.5 us block of
 * register FMAs after a pause loop of 5-200 us ran as fast as the block after it (after 1 ms
 * 12.3 us, after a nanosleep of 20-2000 us both blocks 12.3-14.3).  Per step against
 * onnxruntime (benchmarks/qsteps_mt.py --fifo, 3 processes x 150 runs, step minima; 2 threads
 * 3.54 ms, 1.68x over 1 thread, onnxruntime's matched nodes 1.73x): the steps that scale less
 * than onnxruntime's lose features.4 squeeze 44 us (1.20x against 1.75x), features.3
 * expand3x3 31 (1.69x / 1.95x), expand1x1 23 (1.14x / 1.70x), features.4 expand3x3 20,
 * expand1x1 13: the two 55x55 fire modules ~130 us of the ~140 a run lacks for 0.80.
 * Where the squeezes' inputs lie when they start (benchmarks/b_lines_probe.patch: each chunk
 * first reads one float per line of its block of B; chrt -f 10, 30 runs): features.3's (the
 * stem + pool's output) at 76 GB/s at 1 thread (its L2) but 22-28 GB/s per thread at 2, the
 * caller's chunks (the rows its own stem bands wrote) no faster than the worker's; features.4's
 * (the Concat) 32 GB/s at 1 thread, 26-27 at 2: memory's rate (xcore_bw.c), not the other
 * core's.  So at 2 threads a step's input has left the writer's L2 by the next step even where
 * the writer reads it, which at 1 thread it has not: not the partition (the swap above), not
 * located further.  gemm.c packs B at 2 threads for the deep one (TC_GEMM_PACK_MT_MIN_K).
 *
 * Located (h36-2t, 2026-12-05 13:5x-14:1x, same host, chrt -f 10): a core loses the lines it
 * wrote when the other core writes next to them, and a step split by rows or columns of NCHW
 * planes has each thread write its half of EVERY plane, so the two cores write side by side
 * 64-128 times a step.  In SqueezeNet (benchmarks/stem_reread_probe.patch with b_lines_probe.patch,
 * 12 runs): right after the stem + pool each thread re-reads its own rows of the output at
 * 44-50 (caller) and 26-28 GB/s (worker) against 62-78 at 1 thread, and the squeeze's chunks
 * then read them at 12-27 GB/s (the worker's first chunk, just re-read, 80-98; at 1 thread
 * 88-106).  The same with both threads pinned to their vCPUs (os.sched_setaffinity): not the
 * placement (each thread stays on its CPU for the run).  benchmarks/l2_gap.c reproduces it
 * without tinycnn: two pinned threads each writing 387 KB as halves of 64 planes of 55x55
 * read them back at 29-47 GB/s (1 thread the whole 774 KB: 84; contiguous halves: 102); the
 * second of two writers keeps its lines, the first loses them (29 / 77); halves of 96 KB or a
 * ~4 KB untouched gap at each end keep them (98-99): the writer's prefetchers run ahead of its
 * stores into the other core's range; reading next to them takes them too (l2_gap.c READ1_NEXT:
 * 31.5 after the other core's writes), so a halo read near another core's rows costs them.
 * Not the pool: a PAUSE spin of 50-1000 us keeps the lines (102), the other core streaming 64
 * MB meanwhile too (100-102); only a halted vCPU (nanosleep 200 / 1000 us: 84 / 40) loses
 * them.  So at 2 threads every step of a 55x55 or smaller map reads its input from L3 (planes
 * of 3025 floats: 6 KB a half, most of it within 4 KB of the other core's half), which 1
 * thread never does: that is the ~130 us of the two 55x55
 * fire modules.  Not cured by writing one thread's bands in reverse (l2_gap.c REVERSE: 30 /
 * 63, 38 / 34), nor by a producer split by channels (each thread whole planes, one boundary:
 * l2_gap.c WRITE_PLANES, the next step's column halves then read half from the other core:
 * 21 / 28).  What might: thread ranges >= ~4 KB apart in a padded layout, the steps of a fire
 * module fused per thread on its own rows (squeeze -> both expands, the lines never leave the
 * core), or consumers built for inputs from L3 (B packed in one sequential pass, as
 * TC_GEMM_PACK_MT_MIN_K does for the deep squeeze).
 *
 * Measured (h37-sq2, 2026-12-05 17:1x-17:3x, same host, AVX2 emulation, 2 threads, SCHED_FIFO).
 * Where SqueezeNet's 2 threads lose (benchmarks/qsteps_mt.py, 3 processes x 200 runs, step
 * minima, 2 threads against half of 1): every step, not only the 55x55 ones: 55x55 fire
 * modules ~165 us (expand3x3 46, expand1x1 33 + 19, squeezes 13 + 30), 27x27 ~120, the four
 * 13x13 ~200 (10-31 us a step), stem + pool 23 (alone 1.90x warm, 1.62x cold: cuts_mt.py),
 * max pools 30, classifier 28.  Splits by output channels, each thread one contiguous region
 * of the output (benchmarks/sq2_splits.patch, mt_inproc.py --fifo 6 x 40 runs, step medians,
 * bit-identical): the Winograd expand3x3s with each thread transforming all the input and
 * running half the output channel panels (TC_X_WGK) 1.06 / 1.12 at 55x55, 1.12 / 1.11 at
 * 27x27, the squeezes after them 1.07 (55x55), 0.93 / 0.98 (27x27); the expand1x1s split
 * by rows of C (TC_X_ROWS) 1.11 / 1.23 at 55x55, 1.23 / 1.68 at 27x27, the squeeze after them
 * level: a thread then reads all of the squeeze's output, half of it from the other core,
 * and the next squeeze still reads half its input from the other core.  Nor the order of a
 * thread's column chunks (TC_X_REV: one thread's half last to first, l2_gap.c's REVERSE):
 * sum of the step minima 1.000 / 1.011.  Nor the Winograd output lines prefetched for write a
 * panel ahead (benchmarks/wg_out_prefetchw.patch): features.3 expand3x3 0.96, the other
 * expand3x3s 1.02-1.09.  What paid: consumers reading B packed, in one pass
 * (gemm.c TC_GEMM_PACK_MT_MAX_SHALLOW_K, the 55x55 expand1x1s 0.74 / 0.80).  Measuring: two
 * 2-thread sessions in one process under chrt -f 10 (mt_inproc.py's NAME=VALUE variants,
 * ab_threads.py) at times all ran at 1-thread speed (6.5 ms against 3.8), and so did whole
 * processes while another helper's FIFO process held a CPU: benchmarks/env_steps_ab.py runs
 * one session a process and leaves such processes out.
 *
 * Measured (h39-mt, 2026-12-06 00:15-00:35, same host, AVX2 emulation, chrt -f 10,
 * pool_trace.py on a build with benchmarks/pool_trace.patch and chan8_halo_stats.patch, 300 runs,
 * the fastest 30%).  The worker starts each job 0.4-0.7 us after its publication in
 * MobileNetV2 (24 jobs a run, 4.49 ms) and 0.3-0.4 us in MnasNet (25 jobs, 4.56 ms): 8-12 us a
 * run, 0.2-0.3% of it, and within a run it never sleeps (every gap is shorter than
 * TC_POOL_SPIN_NS): a longer or run-scoped spin has nothing left to win here.  Idle at the ends
 * of jobs 126 / 110 us a run (rows jobs 54 / 33, GEMM jobs 31 / 30, strips 23 / 25), outside
 * any pool call 36 / 34.  The shared halo rows of the rows mode (ir_fused.c
 * TC_CHAN8_SHARE_MIN_C) were found published by the caller's band 96% of the time in
 * MobileNetV2 (h38-mv2 counted 56-72%), by the worker's 98%; in MnasNet by the caller's 98%, the
 * worker's 85% (its band runs ahead and expands them itself: the balance works as meant).
 * Against onnxruntime's own scaling per step (qsteps_mt.py --fifo --depth 3, 3 x 150 runs)
 * MnasNet at 2 threads loses in the 7x7 blocks (layers.12.1-.3 1.66-1.72x against 1.83-1.85x,
 * .13.0 1.70 / 1.89: 22-38 us each), layers.10-.12.0 (10-12 us each), the classifier (2.19 /
 * 2.90x) and ReduceMean (slower at 2 threads than at 1: 14 against 9 us, one thread reading
 * half its input from the other core; split since, norm.c TC_REDUCE_GRAIN).  The 7x7 blocks'
 * strips scale (two threads' 16 chunks each, 8.4-8.7 us for 2 strips, 12.7 for 3, the first
 * +4.5); their projections do not, see ir_fused.c chan8_run.
 *
 * Measured (h49-mt, 2026-12-07 07:30-07:48, same host, AVX2 emulation, chrt -f 10, 2 threads,
 * benchmarks/pool_trace.py report --first, caller pinned to either CPU): the hand-off costs
 * nothing (the caller's first chunk starts 0.10-0.12 us after the publication, the worker's
 * 0.25-0.6; 0.3-1.1 us between jobs).  Where the caller's chunk of a job ran slower than the
 * worker's (MobileNetV2's sparse 7x7 projections 107-109 us against 93-100, the 14x14 -> 7x7
 * strips' first chunk 18-29 against 15-17), the excess stayed with the caller when every chunk
 * went to the other thread and when the kernel's code was read first, and moved to the worker
 * when the caller claimed 5 us late: whichever thread starts first pays for the data both read,
 * the job's wall unchanged (benchmarks/pool_role_swap.patch; the swap itself 1.01-1.02 worse).
 *
 * One job at a time: a second caller (another Python thread, or a kernel
 * called from inside a worker) that finds the pool busy runs its loop inline.
 * After fork() the workers do not exist in the child: the pool remembers how many forks
 * its creator had seen (fork_count) and runs everything inline in any other process.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "tinycnn.h"

/* How long a worker spins before it sleeps: long enough to bridge the Python
 * glue between two kernels of one inference, short enough not to steal a
 * loaded machine's cores (or another thread pool's) for long. */
#define TC_POOL_SPIN_NS 200000L
/* How often the caller wakes a worker that stood aside on its CPU (see worker_main) */
#define TC_POOL_PROBE_NS 2000000L
#define TC_POOL_MAX_CHUNKS 32 /* bits of the claim mask */
/* How long the caller spins at a job's end for the workers' chunks before it blocks */
#define TC_POOL_END_SPIN_NS 1000000L

struct tc_pool {
    int nthreads;
    pid_t owner_pid;
    unsigned forks;      /* fork_count when the pool was made (fork_watched) */
    pthread_t *threads;
    int nstarted;

    pthread_mutex_t mutex;
    pthread_cond_t wake;
    pthread_cond_t done; /* the caller, blocked at a job's end (caller_waiting) */
    int caller_waiting;

    /* job fields: written by the caller before publishing the state word,
     * read by workers with relaxed atomics and trusted only if their claim
     * CAS then succeeds */
    tc_range_fn fn;
    void *arg;
    ptrdiff_t n;
    int nchunks;
    int by_thread; /* fn gets the executing thread's index instead of the chunk's */

    uint64_t state;      /* generation << 32 | claimed-chunk mask */
    unsigned generation; /* caller side copy of the current generation */
    int completed;       /* chunks finished in the current job */
    int sleepers;        /* workers waiting on `wake` */
    int caller_cpu;      /* the CPU the caller published the current job from */
    int aside_cpu;       /* the CPU a worker last stood aside on */
    int aside_sleepers;  /* sleepers that stood aside on aside_cpu */
    long probe_ns;       /* caller side: when to wake an aside worker again */
    int busy;            /* try-lock: 1 while a caller owns the pool */
    int stop;
};

typedef struct {
    tc_pool *pool;
    int tid;
} tc_worker_arg;

/* fork() calls in this process's ancestry since the library was loaded, counted by a
 * pthread_atfork child handler: a pool compares it with the count it was made under, where
 * every job asked getpid(), a system call (0.3-0.46 us here, 2026-12-03: a KVM guest),
 * 46 times a MobileNetV2 run and ~100 a RegNetY-400MF run at 2 threads.  fork_watched is 0
 * if pthread_atfork failed: then getpid() as before. */
static unsigned fork_count;
static int fork_watched;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_child(void) { fork_count++; } /* the child has one thread here */

static void fork_watch(void) { fork_watched = pthread_atfork(NULL, NULL, fork_child) == 0; }

/* Whether this process is the one that made the pool (its workers exist here) */
static int pool_owned(const tc_pool *p)
{
    return fork_watched ? p->forks == __atomic_load_n(&fork_count, __ATOMIC_RELAXED)
                        : p->owner_pid == getpid();
}

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claims chunk t of generation gen; 0 if taken or the job is gone. */
static int claim(tc_pool *p, unsigned gen, int t)
{
    uint64_t bit = (uint64_t)1 << t;
    uint64_t s = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);
    while ((unsigned)(s >> 32) == gen && !(s & bit)) {
        if (__atomic_compare_exchange_n(&p->state, &s, s | bit, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return 1;
    }
    return 0;
}

static void run_chunk(tc_range_fn fn, void *arg, ptrdiff_t n, int nchunks, int chunk, int tid)
{
    ptrdiff_t b = n * chunk / nchunks;
    ptrdiff_t e = n * (chunk + 1) / nchunks;
    if (e > b)
        fn(arg, tid, b, e);
}

/* Claims and runs chunks of generation gen.  Static jobs (nchunks <= threads)
 * start at the thread's own chunk and pass the chunk index as tid; dynamic
 * jobs start at chunk `first` too (spreading threads over the range) and
 * pass the thread's own index. */
static void help(tc_pool *p, unsigned gen, int self, int first, tc_range_fn fn, void *arg,
                 ptrdiff_t n, int nchunks, int by_thread)
{
    for (int i = 0; i < nchunks; i++) {
        int t = (first + i) % nchunks;
        if (claim(p, gen, t)) {
            run_chunk(fn, arg, n, nchunks, t, by_thread ? self : t);
            /* seq_cst: pairs with the caller's caller_waiting = 1 then completed read
             * (end_wait): either it sees our chunk done or we see it blocked */
            __atomic_add_fetch(&p->completed, 1, __ATOMIC_SEQ_CST);
            if (self && __atomic_load_n(&p->caller_waiting, __ATOMIC_SEQ_CST)) {
                pthread_mutex_lock(&p->mutex);
                pthread_cond_signal(&p->done);
                pthread_mutex_unlock(&p->mutex);
            }
        }
    }
}

/* Moves the calling thread off `cpu`: its affinity mask without `cpu` for a moment (the kernel
 * migrates it at once), then the mask it had, so that the scheduler stays free to move it
 * later (a pinned worker on a crowded CPU was 3x slower, s16).  Returns the CPU it runs on
 * now: still `cpu` where no other CPU is allowed or the calls fail. */
static int move_off(int cpu)
{
    cpu_set_t allowed, others;
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(allowed), &allowed) != 0 ||
        !CPU_ISSET(cpu, &allowed))
        return cpu;
    others = allowed;
    CPU_CLR(cpu, &others);
    if (CPU_COUNT(&others) == 0 || sched_setaffinity(0, sizeof(others), &others) != 0)
        return cpu;
    sched_setaffinity(0, sizeof(allowed), &allowed);
    return sched_getcpu();
}

/* Whether a worker on `cpu` shares it with the caller even after trying to move off it */
static int on_caller_cpu(const tc_pool *p, int cpu)
{
    return cpu >= 0 && cpu == __atomic_load_n(&p->caller_cpu, __ATOMIC_RELAXED) &&
           move_off(cpu) == cpu;
}

static void *worker_main(void *varg)
{
    tc_worker_arg *wa = (tc_worker_arg *)varg;
    tc_pool *p = wa->pool;
    int tid = wa->tid;
    /* generation is 0 at creation: reading it here could miss a job
     * published before this thread got scheduled */
    unsigned seen = 0;
    int aside = -1; /* the CPU this worker stood aside on, or -1 */
    free(wa);

    for (;;) {
        unsigned gen = seen;
        long spin_end = now_ns() + TC_POOL_SPIN_NS;
        int spins = 0;
        while (aside < 0 &&
               (gen = (unsigned)(__atomic_load_n(&p->state, __ATOMIC_ACQUIRE) >> 32)) == seen) {
            cpu_relax();
            if ((++spins & 255) == 0) {
                if (now_ns() > spin_end)
                    break;
                /* spinning on the caller's CPU takes that CPU from the caller */
                int cpu = sched_getcpu();
                if (on_caller_cpu(p, cpu))
                    aside = cpu;
            }
        }
        if (aside >= 0 || gen == seen) {
            pthread_mutex_lock(&p->mutex);
            __atomic_add_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
            if (aside >= 0) {
                __atomic_store_n(&p->aside_cpu, aside, __ATOMIC_RELAXED);
                __atomic_add_fetch(&p->aside_sleepers, 1, __ATOMIC_SEQ_CST);
            }
            while ((gen = (unsigned)(__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) >> 32)) == seen &&
                   !__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST))
                pthread_cond_wait(&p->wake, &p->mutex);
            if (aside >= 0)
                __atomic_sub_fetch(&p->aside_sleepers, 1, __ATOMIC_SEQ_CST);
            __atomic_sub_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
            pthread_mutex_unlock(&p->mutex);
        }
        if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
            break;
        seen = gen;
        /* On the caller's CPU, a chunk of ours would only take turns with the caller's (and
         * the caller may end up waiting for us while we are descheduled): move off it, or
         * where we cannot, leave our chunks to the caller and sleep until a wake-up. */
        int cpu = sched_getcpu();
        aside = on_caller_cpu(p, cpu) ? cpu : -1;
        if (aside >= 0)
            continue;
        tc_range_fn fn = __atomic_load_n(&p->fn, __ATOMIC_RELAXED);
        void *arg = __atomic_load_n(&p->arg, __ATOMIC_RELAXED);
        ptrdiff_t n = __atomic_load_n(&p->n, __ATOMIC_RELAXED);
        int nchunks = __atomic_load_n(&p->nchunks, __ATOMIC_RELAXED);
        int by_thread = __atomic_load_n(&p->by_thread, __ATOMIC_RELAXED);
        if (tid < nchunks)
            help(p, gen, tid, by_thread ? (int)((long)nchunks * tid / p->nthreads) : tid, fn, arg, n,
                 nchunks, by_thread);
    }
    return NULL;
}

tc_pool *tc_pool_create(int nthreads)
{
    tc_pool *p = (tc_pool *)calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->nthreads = nthreads < 1 ? 1 : nthreads;
    pthread_once(&fork_once, fork_watch);
    p->owner_pid = getpid();
    p->forks = __atomic_load_n(&fork_count, __ATOMIC_RELAXED);
    p->caller_cpu = -1;
    p->aside_cpu = -1;
    if (p->nthreads == 1)
        return p;
    if (pthread_mutex_init(&p->mutex, NULL) != 0) {
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = (pthread_t *)calloc((size_t)p->nthreads, sizeof(pthread_t));
    if (!p->threads) {
        tc_pool_destroy(p);
        return NULL;
    }
    for (int t = 1; t < p->nthreads; t++) {
        tc_worker_arg *wa = (tc_worker_arg *)malloc(sizeof(*wa));
        if (!wa) {
            tc_pool_destroy(p);
            return NULL;
        }
        wa->pool = p;
        wa->tid = t;
        if (pthread_create(&p->threads[t - 1], NULL, worker_main, wa) != 0) {
            free(wa);
            tc_pool_destroy(p);
            return NULL;
        }
        p->nstarted++;
    }
    return p;
}

void tc_pool_destroy(tc_pool *pool)
{
    if (!pool)
        return;
    if (pool->nthreads > 1) {
        /* In a forked child the workers are not ours: never signal or join them. */
        if (pool_owned(pool) && pool->nstarted > 0) {
            pthread_mutex_lock(&pool->mutex);
            __atomic_store_n(&pool->stop, 1, __ATOMIC_SEQ_CST);
            /* a new generation with every chunk claimed: wakes the spinners */
            __atomic_store_n(&pool->state, ((uint64_t)(pool->generation + 1) << 32) | 0xffffffffu,
                             __ATOMIC_SEQ_CST);
            pthread_cond_broadcast(&pool->wake);
            pthread_mutex_unlock(&pool->mutex);
            for (int t = 0; t < pool->nstarted; t++)
                pthread_join(pool->threads[t], NULL);
            pthread_cond_destroy(&pool->wake);
            pthread_cond_destroy(&pool->done);
            pthread_mutex_destroy(&pool->mutex);
        }
        free(pool->threads);
    }
    free(pool);
}

int tc_pool_size(const tc_pool *pool) { return pool ? pool->nthreads : 1; }

static void parallel_run(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg,
                         int max_chunks, int by_thread)
{
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    ptrdiff_t nchunks = (n + grain - 1) / grain;
    if (!pool || pool->nthreads <= 1 || nchunks <= 1 || pool->nstarted != pool->nthreads - 1 ||
        !pool_owned(pool) || __atomic_exchange_n(&pool->busy, 1, __ATOMIC_ACQUIRE)) {
        fn(arg, 0, 0, n);
        return;
    }
    if (nchunks > max_chunks)
        nchunks = max_chunks;
    if (nchunks > TC_POOL_MAX_CHUNKS)
        nchunks = TC_POOL_MAX_CHUNKS;

    unsigned gen = ++pool->generation;
    __atomic_store_n(&pool->fn, fn, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->arg, arg, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->n, n, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->nchunks, (int)nchunks, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->by_thread, by_thread, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->completed, 0, __ATOMIC_RELAXED);
    const int cpu = sched_getcpu();
    __atomic_store_n(&pool->caller_cpu, cpu, __ATOMIC_RELAXED);
    /* seq_cst publish, then read sleepers: pairs with the worker's sleepers++
     * then state read, so either the worker sees the job or we see it asleep. */
    /* The chunks past nchunks are published as claimed.  A worker that read the previous
     * job's generation and then this job's fields (n, nchunks, fn: written above while the
     * state word still holds the previous generation, all of whose first chunks are claimed)
     * could otherwise claim a chunk t >= the previous nchunks under the old generation, run
     * it before the job is published (and again when it is), and count it in `completed`:
     * the caller then returned one chunk early, with that chunk still running.  Seen once
     * (s33, the sanitizer suite, 3 threads on 2 cores): two int8 GEMM tests with wrong
     * rows, then a use after free in a worker's qdriver_task. */
    const uint64_t unused = nchunks < 32 ? 0xffffffffu & ~((1u << nchunks) - 1u) : 0;
    __atomic_store_n(&pool->state, ((uint64_t)gen << 32) | unused, __ATOMIC_SEQ_CST);
    const int sleepers = __atomic_load_n(&pool->sleepers, __ATOMIC_SEQ_CST);
    if (sleepers > 0) {
        /* Sleepers that all stood aside on this CPU would only wake to stand aside again
         * (two context switches on our CPU): they are woken every TC_POOL_PROBE_NS, in case
         * another CPU has become idle (the wake-up places them there), else we run the job
         * alone. */
        const int aside = cpu >= 0 && __atomic_load_n(&pool->aside_sleepers, __ATOMIC_SEQ_CST) ==
                                          sleepers &&
                          __atomic_load_n(&pool->aside_cpu, __ATOMIC_RELAXED) == cpu;
        long t = aside ? now_ns() : 0;
        if (!aside || t >= pool->probe_ns) {
            pool->probe_ns = t + TC_POOL_PROBE_NS;
            pthread_mutex_lock(&pool->mutex);
            pthread_cond_broadcast(&pool->wake);
            pthread_mutex_unlock(&pool->mutex);
        }
    }

    /* our chunk 0, then whatever no worker has claimed yet */
    help(pool, gen, 0, 0, fn, arg, n, (int)nchunks, by_thread);

    /* chunks claimed by workers are still running: spin, then block until the last is done
     * (n31-2t: a worker preempted inside its chunk waits in the run queue of a CPU shared with
     * another process while a spinning or yielding caller keeps its own CPU busy; a blocked
     * caller leaves that CPU idle and the scheduler pulls the worker over) */
    int spins = 0;
    long spin_end = 0;
    while (__atomic_load_n(&pool->completed, __ATOMIC_ACQUIRE) < nchunks) {
        cpu_relax();
        if ((++spins & 255) != 0)
            continue;
        if (!spin_end)
            spin_end = now_ns() + TC_POOL_END_SPIN_NS;
        if (now_ns() < spin_end)
            continue;
        pthread_mutex_lock(&pool->mutex);
        __atomic_store_n(&pool->caller_waiting, 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&pool->completed, __ATOMIC_SEQ_CST) < nchunks) {
            struct timespec ts; /* a bound, should a wake-up ever be missed */
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&pool->done, &pool->mutex, &ts);
        }
        __atomic_store_n(&pool->caller_waiting, 0, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&pool->mutex);
    }
    __atomic_store_n(&pool->busy, 0, __ATOMIC_RELEASE);
}

void tc_parallel_for(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg)
{
    parallel_run(pool, n, grain, fn, arg, pool ? pool->nthreads : 1, 0);
}

void tc_parallel_for_dynamic(tc_pool *pool, ptrdiff_t n, ptrdiff_t grain, tc_range_fn fn, void *arg)
{
    parallel_run(pool, n, grain, fn, arg, TC_POOL_MAX_CHUNKS, 1);
}
