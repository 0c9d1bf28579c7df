// A fuzz target's own assertion: a failed check stops the run at once, as a crash the fuzzer
// reports with the input that caused it (assert() would vanish under NDEBUG).
#pragma once

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)
