/* Fixed CPU-bound work for the sampling-overhead benchmark, and a call loop for the uprobe cost.
 * Usage: spin work ITERATIONS        -> prints the loop's wall time in ns
 *        spin calls N DELAY_MS [nop5] -> sleeps DELAY_MS, calls probed() (or probed_nop5()) N
 *                                        times, prints ns */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) unsigned long mix(unsigned long x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdUL;
    x ^= x >> 33;
    return x;
}

__attribute__((noinline)) int inner(int x)
{
    __asm__ volatile("" ::: "memory");
    return x * 3 + 1;
}

/* A typical probed function: not a leaf, so with frame pointers it opens with `push %rbp`,
 * which the kernel emulates (a first instruction it cannot emulate is single-stepped out of
 * line: a second trap per call). */
__attribute__((noinline)) int probed(int x)
{
    return inner(x) + 1;
}

/* The same function opening with a 5-byte NOP, as `-pg -mfentry -mnop-mcount` or a patchable
 * entry leaves it: since Linux 6.18 the kernel turns a uprobe on such a NOP into a call to a
 * trampoline (`[uprobes-trampoline]`) after its first hit, avoiding the breakpoint trap. */
int probed_nop5(int x);
__asm__(".text\n"
        ".globl probed_nop5\n"
        ".type probed_nop5, @function\n"
        "probed_nop5:\n"
        "    .byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n" /* nopl 0x0(%rax,%rax,1) */
        "    push %rbp\n"
        "    mov %rsp, %rbp\n"
        "    call inner\n"
        "    add $1, %eax\n"
        "    pop %rbp\n"
        "    ret\n"
        ".size probed_nop5, .-probed_nop5\n");

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "work") == 0) {
        unsigned long n = strtoul(argv[2], 0, 10), acc = 1;
        long long start = now_ns();
        for (unsigned long i = 0; i < n; i++)
            acc = mix(acc + i);
        printf("%lld %lu\n", now_ns() - start, acc & 1);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "calls") == 0) {
        long n = atol(argv[2]);
        usleep(atol(argv[3]) * 1000);
        int (*f)(int) = argc >= 5 && strcmp(argv[4], "nop5") == 0 ? probed_nop5 : probed;
        int sink = 0;
        long long start = now_ns();
        for (long i = 0; i < n; i++)
            sink += f((int)i);
        printf("%lld %d\n", now_ns() - start, sink & 1);
        return 0;
    }
    fprintf(stderr, "usage: spin work N | spin calls N DELAY_MS [nop5]\n");
    return 2;
}
