// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only
//
// Stella's kernel side: stack sampling on cpu-clock and uprobe call counting.
//
// Both programs keep only canonical frames and counts: the user stack as (BuildID, file offset)
// per frame (BPF_F_USER_BUILD_ID), the kernel stack as addresses in a stack-trace map, the
// process id, its name and its cgroup id. Never arguments, registers or memory.
//
// User stacks are deduplicated in `ustacks`, keyed by two independent 64-bit hashes of the
// frames (a stack-trace map cannot be read back with build ids by the loader in use, and a
// 128-bit key makes a collision practically impossible). `counts` aggregates samples in the
// kernel, keyed by (pid, user stack, kernel stack); user space reads the maps once at the end.
//
// Built by bpf/build.sh with clang into stella.bpf.o, which is committed so that building
// Stella needs no clang; CI rebuilds it and checks the bytes are the same.

#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long s64;

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
                                   u64 flags) = (void *)BPF_FUNC_map_update_elem;
static u64 (*bpf_get_current_pid_tgid)(void) = (void *)BPF_FUNC_get_current_pid_tgid;
static long (*bpf_get_current_comm)(void *buf, u32 size) = (void *)BPF_FUNC_get_current_comm;
static long (*bpf_get_stackid)(void *ctx, void *map, u64 flags) = (void *)BPF_FUNC_get_stackid;
static long (*bpf_get_stack)(void *ctx, void *buf, u32 size, u64 flags) = (void *)BPF_FUNC_get_stack;
static u64 (*bpf_get_current_cgroup_id)(void) = (void *)BPF_FUNC_get_current_cgroup_id;
static u64 (*bpf_get_current_ancestor_cgroup_id)(int level) =
    (void *)BPF_FUNC_get_current_ancestor_cgroup_id;
static u64 (*bpf_get_attach_cookie)(void *ctx) = (void *)BPF_FUNC_get_attach_cookie;
static long (*bpf_probe_read_user)(void *dst, u32 size, const void *src) =
    (void *)BPF_FUNC_probe_read_user;

#define MAX_FRAMES 127

// Which processes to keep, set by user space before loading.
// 0: every process; 1: the pids in `targets`; 2: processes in cgroup `target_cgroup` (at
// hierarchy level `target_cgroup_level`) or below it.
const volatile u32 filter_mode = 0;
const volatile u32 target_cgroup_level = 0;
const volatile u64 target_cgroup = 0;
// Witness: calls recorded with their stack while the symbol's count is at most this.
const volatile u64 witness_stacks_per_symbol = 0;

struct user_stack {
    u32 len;       // bytes of frames filled
    u32 reserved;
    struct bpf_stack_build_id frames[MAX_FRAMES];
};

struct process_info {
    char comm[16];
    u64 cgroup;
};

// counts key: tgid | reserved << 32, user stack hash (2 words), kernel stack id (negative: none).
struct sample_key {
    u32 tgid;
    u32 reserved;
    u64 hash_a;
    u64 hash_b;
    s64 kernel_stack;
};

// witness key: tgid, symbol index (the attach cookie).
struct call_key {
    u32 tgid;
    u32 symbol;
};

// witness stack key: tgid, symbol, user stack hash, and the return address on top of the
// stack at the probed entry (the immediate caller, which a frame-pointer walk started at a
// function's first instruction cannot see: the callee has not pushed its frame yet).
struct call_stack_key {
    u32 tgid;
    u32 symbol;
    u64 hash_a;
    u64 hash_b;
    u64 caller;
};

// x86-64 `struct pt_regs`: the stack pointer is the 20th 8-byte field.
#define PT_REGS_SP_INDEX 19

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, u32);
    __type(value, u8);
} targets SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct user_stack);
} scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 16384);
    __type(key, u64[2]);
    __type(value, struct user_stack);
} ustacks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 16384);
    __uint(key_size, sizeof(u32));
    __uint(value_size, MAX_FRAMES * sizeof(u64));
} kstacks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 65536);
    __type(key, struct sample_key);
    __type(value, u64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 65536);
    __type(key, u32);
    __type(value, struct process_info);
} processes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 65536);
    __type(key, struct call_key);
    __type(value, u64);
} calls SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 16384);
    __type(key, struct call_stack_key);
    __type(value, u64);
} call_stacks SEC(".maps");

// Counters: 0 samples taken, 1 samples lost (a map was full), 2 user stacks unavailable,
// 3 kernel stacks unavailable, 4 calls counted, 5 calls lost.
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 8);
    __type(key, u32);
    __type(value, u64);
} stats SEC(".maps");

static __attribute__((always_inline)) void bump(u32 index)
{
    u64 *value = bpf_map_lookup_elem(&stats, &index);
    if (value)
        *value += 1;
}

static __attribute__((always_inline)) int wanted(u32 tgid)
{
    if (tgid == 0)
        return 0; // the idle task
    if (filter_mode == 1)
        return bpf_map_lookup_elem(&targets, &tgid) != 0;
    if (filter_mode == 2)
        return bpf_get_current_ancestor_cgroup_id(target_cgroup_level) == target_cgroup;
    return 1;
}

static __attribute__((always_inline)) void remember_process(u32 tgid)
{
    struct process_info info = {};
    if (bpf_map_lookup_elem(&processes, &tgid))
        return;
    bpf_get_current_comm(info.comm, sizeof(info.comm));
    info.cgroup = bpf_get_current_cgroup_id();
    bpf_map_update_elem(&processes, &tgid, &info, BPF_NOEXIST);
}

// Reads the current user stack into the per-CPU scratch buffer, stores it in `ustacks` under
// its hash and returns the hash in `hash`; returns 0 when there is no user stack.
static __attribute__((always_inline)) int capture_user_stack(void *ctx, u64 hash[2])
{
    u32 zero = 0;
    struct user_stack *stack = bpf_map_lookup_elem(&scratch, &zero);
    if (!stack)
        return 0;
    long len = bpf_get_stack(ctx, stack->frames, sizeof(stack->frames),
                             BPF_F_USER_STACK | BPF_F_USER_BUILD_ID);
    if (len <= 0) {
        bump(2);
        return 0;
    }
    stack->len = (u32)len;
    stack->reserved = 0;
    u32 frames = (u32)len / sizeof(struct bpf_stack_build_id);
    // FNV-1a over the 64-bit words of the frames, and a multiply-xorshift mix with another
    // seed. Bytes past `len` are not hashed (user space reads only `len` bytes back).
    u64 a = 0xcbf29ce484222325ULL;
    u64 b = 0x9e3779b97f4a7c15ULL ^ (u64)len;
    for (u32 i = 0; i < MAX_FRAMES; i++) {
        if (i >= frames)
            break;
        u64 *w = (u64 *)&stack->frames[i];
        for (u32 j = 0; j < 4; j++) {
            a = (a ^ w[j]) * 0x100000001b3ULL;
            b ^= w[j] + 0x9e3779b97f4a7c15ULL + (b << 6) + (b >> 2);
            b *= 0xff51afd7ed558ccdULL;
        }
    }
    hash[0] = a;
    hash[1] = b;
    if (bpf_map_update_elem(&ustacks, hash, stack, BPF_NOEXIST) != 0 &&
        !bpf_map_lookup_elem(&ustacks, hash))
        return -1; // the map is full
    return 1;
}

SEC("perf_event")
int stella_sample(void *ctx)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!wanted(tgid))
        return 0;
    bump(0);
    remember_process(tgid);

    struct sample_key key = {};
    key.tgid = tgid;
    u64 hash[2] = {0, 0};
    if (capture_user_stack(ctx, hash) < 0) {
        bump(1);
        return 0;
    }
    key.hash_a = hash[0];
    key.hash_b = hash[1];
    key.kernel_stack = bpf_get_stackid(ctx, &kstacks, 0);
    if (key.kernel_stack < 0)
        bump(3);

    u64 *count = bpf_map_lookup_elem(&counts, &key);
    if (count) {
        __sync_fetch_and_add(count, 1);
        return 0;
    }
    u64 one = 1;
    if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST) != 0) {
        count = bpf_map_lookup_elem(&counts, &key);
        if (count)
            __sync_fetch_and_add(count, 1);
        else
            bump(1);
    }
    return 0;
}

SEC("uprobe")
int stella_witness(void *ctx)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!wanted(tgid))
        return 0;
    bump(4);

    struct call_key key = {};
    key.tgid = tgid;
    key.symbol = (u32)bpf_get_attach_cookie(ctx);
    u64 seen = 0;
    u64 *count = bpf_map_lookup_elem(&calls, &key);
    if (count) {
        seen = __sync_fetch_and_add(count, 1) + 1;
    } else {
        // A process's first call of this symbol: the only time its name and cgroup are
        // needed, which keeps every later hit to two map lookups.
        remember_process(tgid);
        u64 one = 1;
        if (bpf_map_update_elem(&calls, &key, &one, BPF_NOEXIST) == 0) {
            seen = 1;
        } else {
            count = bpf_map_lookup_elem(&calls, &key);
            if (!count) {
                bump(5);
                return 0;
            }
            seen = __sync_fetch_and_add(count, 1) + 1;
        }
    }
    if (seen > witness_stacks_per_symbol)
        return 0;

    u64 hash[2] = {0, 0};
    if (capture_user_stack(ctx, hash) <= 0)
        return 0;
    struct call_stack_key stack_key = {};
    stack_key.tgid = tgid;
    stack_key.symbol = key.symbol;
    stack_key.hash_a = hash[0];
    stack_key.hash_b = hash[1];
    u64 sp = ((u64 *)ctx)[PT_REGS_SP_INDEX];
    u64 caller = 0;
    if (bpf_probe_read_user(&caller, sizeof(caller), (void *)sp) == 0)
        stack_key.caller = caller;
    u64 *hits = bpf_map_lookup_elem(&call_stacks, &stack_key);
    if (hits) {
        __sync_fetch_and_add(hits, 1);
    } else {
        u64 one = 1;
        bpf_map_update_elem(&call_stacks, &stack_key, &one, BPF_NOEXIST);
    }
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
