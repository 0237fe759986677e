// The libFuzzer entry point of one target, chosen when it is compiled (MINICNN_FUZZ_TARGET, a function of
// fuzz_targets.h). Reproduce a finding with: build-fuzz/tests/fuzz/fuzz_<target> <file>
#include "fuzz_targets.h"

#if MINICNN_FUZZ_SMALL_HEAP
// A model spec is a request for memory (Conv2d(1, 100000, 100) asks for 4 GB): this target runs as on a
// machine where no single block over 32 MiB can be had (libFuzzer itself takes one of 20 MiB), so a big
// lazy layer ends in the library's "could not allocate" Error instead of the fuzzer's out-of-memory
// report (see modest_spec() in fuzz_targets.cpp). The file parsers' targets keep the defaults: every
// allocation there is the parser's to bound before it is made.
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1:max_allocation_size_mb=32";
}
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  minicnn::fuzz::MINICNN_FUZZ_TARGET(data, size);
  return 0;
}
