# Finds the system packages sr depends on (all from Debian 12). No code is vendored: this file only
# locates what apt installed, and stops configuration with the exact install line when something
# is missing. It is also installed next to srConfig.cmake so consumers find the same dependencies.

set(SR_APT_RUNTIME_PACKAGES libeigen3-dev libdnnl-dev libstb-dev nlohmann-json3-dev libpng-dev)
set(SR_APT_BUILD_PACKAGES libcli11-dev catch2 libbenchmark-dev)

function(sr_missing_package what package)
  message(FATAL_ERROR "sr: ${what} was not found. Install it with:\n"
                      "  apt-get install -y ${package}\n"
                      "or everything sr needs at once:\n"
                      "  apt-get install -y ${SR_APT_RUNTIME_PACKAGES} ${SR_APT_BUILD_PACKAGES}")
endfunction()

find_package(Threads REQUIRED)

find_package(OpenMP QUIET COMPONENTS CXX)
if(NOT OpenMP_CXX_FOUND)
  sr_missing_package("OpenMP (libgomp)" "libgomp1")
endif()

find_package(Eigen3 3.3 QUIET NO_MODULE)
if(NOT TARGET Eigen3::Eigen)
  sr_missing_package("Eigen 3" "libeigen3-dev")
endif()

# oneDNN: found by header and library rather than through Debian's dnnl-config.cmake, because that
# file insists on OpenCL headers (ocl-icd-opencl-dev, only a Recommends of libdnnl-dev) even though
# sr uses oneDNN's CPU engine alone.
if(NOT TARGET DNNL::dnnl)
  find_path(SR_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(SR_DNNL_LIBRARY NAMES dnnl)
  if(NOT SR_DNNL_INCLUDE_DIR OR NOT SR_DNNL_LIBRARY)
    sr_missing_package("oneDNN (dnnl)" "libdnnl-dev")
  endif()
  add_library(DNNL::dnnl UNKNOWN IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES IMPORTED_LOCATION "${SR_DNNL_LIBRARY}"
                                              INTERFACE_INCLUDE_DIRECTORIES "${SR_DNNL_INCLUDE_DIR}")
endif()

find_package(nlohmann_json 3 QUIET CONFIG)
if(NOT TARGET nlohmann_json::nlohmann_json)
  sr_missing_package("nlohmann-json" "nlohmann-json3-dev")
endif()

find_package(PNG QUIET)
if(NOT TARGET PNG::PNG)
  sr_missing_package("libpng" "libpng-dev")
endif()

# Debian's libstb-dev ships the stb implementations compiled into libstb, so no translation unit of
# ours defines STB_IMAGE_IMPLEMENTATION and the headers stay safe to include anywhere.
if(NOT TARGET Stb::stb)
  find_path(SR_STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)
  find_library(SR_STB_LIBRARY stb)
  if(NOT SR_STB_INCLUDE_DIR OR NOT SR_STB_LIBRARY)
    sr_missing_package("stb (stb_image.h and libstb)" "libstb-dev")
  endif()
  add_library(Stb::stb INTERFACE IMPORTED GLOBAL)
  set_target_properties(Stb::stb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${SR_STB_INCLUDE_DIR}"
                                            INTERFACE_LINK_LIBRARIES "${SR_STB_LIBRARY}")
endif()

if(NOT SR_FIND_FOR_CONSUMER)
  if(SR_BUILD_TOOLS)
    find_package(CLI11 QUIET CONFIG)
    if(NOT TARGET CLI11::CLI11)
      sr_missing_package("CLI11" "libcli11-dev")
    endif()
  endif()
  if(SR_BUILD_TESTS)
    find_package(Catch2 2 QUIET CONFIG)
    if(NOT TARGET Catch2::Catch2)
      sr_missing_package("Catch2 v2" "catch2")
    endif()
  endif()
  if(SR_BUILD_BENCH)
    find_package(benchmark QUIET CONFIG)
    if(NOT TARGET benchmark::benchmark)
      sr_missing_package("Google Benchmark" "libbenchmark-dev")
    endif()
  endif()
endif()

# An installed sr built with CUDA links sr::kernels, which needs the toolkit's runtime and cuBLAS.
if(SR_FIND_FOR_CONSUMER AND SR_WITH_CUDA_BUILT)
  find_package(CUDAToolkit REQUIRED)
endif()
