/* The smallest program with what FuncProof reads: symbols, an FDE per function, a call graph. */
static int helper(int x) { return x * 7 + 1; }
int entry(int x) { return helper(x) ^ helper(x + 1); }
int _start(void) { return entry(3); }
