// The Catch2 main of sr_tests (one translation unit compiles Catch's runner).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#if defined(__SANITIZE_THREAD__)
// In a ThreadSanitizer tree (SR_SANITIZE=thread) every run, by ctest or by hand, stops at the first
// report and reads the suppressions whose reasons tests/tsan.supp gives. TSAN_OPTIONS can override.
extern "C" const char* __tsan_default_options() {
    return "halt_on_error=1:second_deadlock_stack=1:suppressions=" SR_SOURCE_DIR "/tests/tsan.supp";
}
#endif
