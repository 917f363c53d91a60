// The Catch2 main of sr_tests (one translation unit compiles Catch's runner).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
