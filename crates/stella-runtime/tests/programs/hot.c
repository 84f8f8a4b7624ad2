/* A process with a known hot function and a rarely called "vulnerable" one.
 * Usage: hot SECONDS VULN_CALLS [DELAY_MS]
 * Waits DELAY_MS (so probes can attach; a negative delay waits for a byte on standard input,
 * sent once they are), calls vuln_parse VULN_CALLS times, then spends
 * SECONDS in hot_loop, and prints the number of vuln_parse calls. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) unsigned long hot_loop(unsigned long n)
{
    volatile unsigned long acc = 0;
    for (unsigned long i = 0; i < n; i++)
        acc += i * 2654435761u;
    return acc;
}

__attribute__((noinline)) int vuln_parse(const char *s)
{
    int h = 0;
    while (*s)
        h = h * 31 + *s++;
    return h;
}

__attribute__((noinline)) void work(void)
{
    hot_loop(2000000);
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 3;
    long calls = argc > 2 ? atol(argv[2]) : 0;
    long delay_ms = argc > 3 ? atol(argv[3]) : 0;
    if (delay_ms > 0)
        usleep(delay_ms * 1000);
    if (delay_ms < 0 && getchar() == EOF)
        return 1;
    int sink = 0;
    char request[] = "GET / HTTP/1.1";
    for (long i = 0; i < calls; i++) {
        /* A different input each time, so no compiler may fold the calls into one. */
        request[4] = (char)('a' + i % 26);
        sink += vuln_parse(request);
    }
    time_t end = time(NULL) + seconds;
    while (time(NULL) < end)
        work();
    printf("%ld %d\n", calls, sink & 1);
    return 0;
}
